"""The SQLite contract researchers query: every table and column, its unit and meaning, in one place.

The DDL, docs/database.md and (later) the dumps' data dictionary are all generated from TABLES,
so they cannot drift apart. NULL rules are part of each column's meaning.

SCHEMA_VERSION is what a fresh database gets; an older file is brought to it by the named
migrations of ``store/migrations.py``, and a column added by a migration is appended here last in
its table (ALTER TABLE ADD COLUMN appends), so fresh and migrated files have the same columns.

Compact storage (schema version 3): the per-joint rows, 17 per frame and nearly all of a
recording's bytes, are stored as whole numbers in ``joint_samples`` (0.01 mm, 0.001 px, scores
x 10^4, the invalid reason as a small code: SQLite stores an integer in 1-4 bytes instead of a
REAL's 8), and researchers read them through the view ``joints``, which has the columns, REAL
values, units, meanings and NULL rules of the former ``joints`` table. ``confidence`` and
``epipolar_px`` are not stored: the view computes them from the stored scores and rows, which is
how the stereo stage defines them. docs/research-data.md ("Compact storage") has the figures.
"""
from __future__ import annotations

from dataclasses import dataclass

from ..events import EVENT_KINDS
from ..joints import JOINT_NAMES
from ..stereo.reasons import REASONS

SCHEMA_VERSION = 6  # 1: walking skeleton; 2: sessions.continues_session; 3: joint_samples + view joints; 4: mqtt_outbox;
#                     5: sessions.engine_* (a TensorRT engine's provenance); 6: session_dumps (retention)
END_REASONS = ("stopped", "duration", "shutdown", "error", "interrupted", "disk_full")


#: Stored integer = round(value x scale) in joint_samples; the view joints divides it back.
XYZ_SCALE = 100  # x/y/z in 0.01 mm (rounding <= 0.005 mm)
UV_SCALE = 1000  # u/v in 0.001 px (rounding <= 0.0005 px)
SCORE_SCALE = 10000  # scores in 1e-4 (rounding <= 5e-5)
#: joint_samples.invalid_code -> joints.invalid_reason. Fixed forever: stored files depend on it
#: (a new reason takes a new code; tests/store check it covers stereo.reasons.REASONS exactly).
INVALID_REASON_CODES: tuple[tuple[int, str], ...] = (
    (1, "not_detected"), (2, "low_score"), (3, "disparity_not_positive"), (4, "depth_out_of_range"),
    (5, "epipolar_error"),
)
INVALID_CODE_BY_REASON = {r: c for c, r in INVALID_REASON_CODES}


@dataclass(frozen=True)
class Column:
    name: str
    decl: str  # SQL type and constraints (a view column: the type of its values)
    unit: str
    meaning: str
    expr: str = ""  # a view column: its SQL expression over the view's base table


@dataclass(frozen=True)
class Table:
    name: str
    doc: str
    columns: tuple[Column, ...]
    constraints: tuple[str, ...] = ()
    without_rowid: bool = False

    def ddl(self) -> str:
        parts = [f"  {c.name} {c.decl}".rstrip() for c in self.columns] + [f"  {c}" for c in self.constraints]
        tail = " WITHOUT ROWID" if self.without_rowid else ""
        return f"CREATE TABLE IF NOT EXISTS {self.name} (\n" + ",\n".join(parts) + f"\n){tail};"


_REASONS_SQL = ", ".join(f"'{r}'" for r in END_REASONS)
#: How a session's dump counted as pulled (session_dumps.pulled_by).
PULLED_BY = ("ack", "removed")
_PULLED_BY_SQL = ", ".join(f"'{r}'" for r in PULLED_BY)

TABLES: tuple[Table, ...] = (
    Table("meta", "Facts about this database file.", (
        Column("key", "TEXT PRIMARY KEY", "", "Name of the fact, e.g. schema_version."),
        Column("value", "TEXT NOT NULL", "", "Its value, as text."),
    )),
    Table("joint_names", "The COCO-17 joint order used by every joint column.", (
        Column("joint", "INTEGER PRIMARY KEY", "", "Joint index 0-16 (COCO order)."),
        Column("name", "TEXT NOT NULL UNIQUE", "", "Joint name, e.g. left_wrist."),
    )),
    Table("calibrations", "Rectified stereo calibration a session was triangulated with.", (
        Column("id", "INTEGER PRIMARY KEY", "", "Row id, referenced by sessions.calibration_id."),
        Column("serial", "TEXT NOT NULL", "", "Camera serial number ('synthetic' for the simulated ZED 2)."),
        Column("resolution", "TEXT NOT NULL", "", "Camera resolution name (HD720, FHD, 2K, VGA)."),
        Column("width", "INTEGER NOT NULL", "px", "Rectified image width."),
        Column("height", "INTEGER NOT NULL", "px", "Rectified image height."),
        Column("fx", "REAL NOT NULL", "px", "Rectified focal length along u (shared by both views)."),
        Column("fy", "REAL NOT NULL", "px", "Rectified focal length along v."),
        Column("cx", "REAL NOT NULL", "px", "Rectified principal point u (pixel-centre origin)."),
        Column("cy", "REAL NOT NULL", "px", "Rectified principal point v."),
        Column("baseline_mm", "REAL NOT NULL", "mm", "Distance between the rectified optical centres."),
        Column("source", "TEXT NOT NULL", "", "Where it came from: synthetic, zed_conf, zed_sdk."),
        Column("file_sha256", "TEXT", "", "sha256 of the factory calibration file; NULL when there is no file (synthetic)."),
    )),
    Table("sessions", "One recording: started by a nurse or `agma record`, ended with a reason.", (
        Column("id", "INTEGER PRIMARY KEY", "", "Row id; child tables refer to it as session_id."),
        Column("uid", "TEXT NOT NULL UNIQUE", "", "The id people see: <box_id>-<UTC yyyymmddThhmmssZ>-<4 hex>."),
        Column("box_id", "TEXT NOT NULL", "", "Box that recorded it (config box.id)."),
        Column("bed_label", "TEXT NOT NULL", "", "Bed or warmer label (never a patient identifier); '' when not set."),
        Column("started_at_ns", "INTEGER NOT NULL", "ns since Unix epoch", "When the session started."),
        Column("ended_at_ns", "INTEGER", "ns since Unix epoch", "When it ended; NULL while open."),
        Column("end_reason", f"TEXT CHECK (end_reason IN ({_REASONS_SQL}))", "",
               "Why it ended: " + ", ".join(END_REASONS) + "; NULL while open."),
        Column("source", "TEXT NOT NULL", "", "Frame source: synthetic, uvc, replay, zed."),
        Column("model", "TEXT NOT NULL", "", "Pose model: 'simulated' or the model file's path."),
        Column("model_sha256", "TEXT", "", "sha256 of the model file; NULL for the simulated model."),
        Column("decoder", "TEXT", "", "Heatmap decoder (dark, standard); NULL when no heatmap is decoded."),
        Column("fps_nominal", "REAL NOT NULL", "frames/s", "The source's nominal frame rate."),
        Column("calibration_id", "INTEGER NOT NULL REFERENCES calibrations(id)", "", "Calibration used to triangulate."),
        Column("frames", "INTEGER NOT NULL DEFAULT 0", "frames", "Frames committed so far (updated in each commit)."),
        Column("dropped_frames", "INTEGER NOT NULL DEFAULT 0", "frames", "Frames the source delivered but the box dropped (inference or storage behind)."),
        Column("software_version", "TEXT NOT NULL", "", "Version of the agma software that recorded it."),
        Column("notes", "TEXT", "", "Free text for staff or researchers; NULL when none."),
        Column("continues_session", "INTEGER REFERENCES sessions(id)", "",
               "sessions.id of the interrupted session this one continues (resumed automatically after a crash, "
               "within store.resume_after_crash_s); NULL when it is not a continuation. Added in schema version 2."),
        Column("engine_onnx_sha256", "TEXT", "",
               "TensorRT engine only: sha256 of the ONNX model the engine was built from (its sidecar), the hash "
               "to compare across boxes (model_sha256 is the box-specific engine file's); NULL when the model is "
               "not a TensorRT engine. Added in schema version 5."),
        Column("engine_tensorrt_version", "TEXT", "",
               "TensorRT engine only: the TensorRT version that built it, e.g. 10.3.0; NULL when the model is not "
               "a TensorRT engine. Added in schema version 5."),
        Column("engine_precision", "TEXT", "",
               "TensorRT engine only: the precision it was built with, fp16 or fp32; NULL when the model is not a "
               "TensorRT engine. Added in schema version 5."),
        Column("engine_gpu", "TEXT", "",
               "TensorRT engine only: the GPU it was built for, name and compute capability, e.g. 'Orin sm 8.7'; "
               "NULL when the model is not a TensorRT engine. Added in schema version 5."),
    )),
    Table("frames", "One row per stored stereo frame pair.", (
        Column("session_id", "INTEGER NOT NULL REFERENCES sessions(id)", "", "sessions.id."),
        Column("frame_index", "INTEGER NOT NULL", "", "Index of the frame within the session, from 0 (gaps are dropped frames)."),
        Column("t_ns", "INTEGER NOT NULL", "ns since Unix epoch", "Capture time (the camera's clock where it has one)."),
        Column("valid_joints", "INTEGER NOT NULL", "joints", "Joints with 3D coordinates in this frame (0-17)."),
        Column("latency_ms", "REAL", "ms", "From the frame entering the box to its triangulation; NULL when unknown."),
    ), constraints=("PRIMARY KEY (session_id, frame_index)",), without_rowid=True),
    Table("joint_samples",
          "Storage of the `joints` view (query `joints`): one row per frame and joint, whole numbers in the "
          "units named by each column; NULL where `joints` has NULL.", (
        Column("session_id", "INTEGER NOT NULL", "", "sessions.id."),
        Column("frame_index", "INTEGER NOT NULL", "", "frames.frame_index."),
        Column("joint", "INTEGER NOT NULL", "", "Joint index (joint_names)."),
        Column("x_10um", "INTEGER", "0.01 mm", "joints.x_mm x 100, rounded; NULL when invalid_code is set."),
        Column("y_10um", "INTEGER", "0.01 mm", "joints.y_mm x 100, rounded; NULL when invalid."),
        Column("z_10um", "INTEGER", "0.01 mm", "joints.z_mm x 100, rounded; NULL when invalid."),
        Column("left_u_mpx", "INTEGER", "0.001 px", "joints.left_u x 1000, rounded; NULL when not detected."),
        Column("left_v_mpx", "INTEGER", "0.001 px", "joints.left_v x 1000, rounded; NULL when not detected."),
        Column("left_score_e4", "INTEGER", "1e-4", "joints.left_score x 10000, rounded; NULL when the view has no score."),
        Column("right_u_mpx", "INTEGER", "0.001 px", "joints.right_u x 1000, rounded; NULL when not detected."),
        Column("right_v_mpx", "INTEGER", "0.001 px", "joints.right_v x 1000, rounded; NULL when not detected."),
        Column("right_score_e4", "INTEGER", "1e-4", "joints.right_score x 10000, rounded; NULL when the view has no score."),
        Column("invalid_code", "INTEGER", "",
               "NULL for a valid joint, else joints.invalid_reason as a code: "
               + ", ".join(f"{c} {r}" for c, r in INVALID_REASON_CODES) + "."),
    ), constraints=("PRIMARY KEY (session_id, frame_index, joint)",), without_rowid=True),
    Table("events", "What happened during a session (start, stop, errors, drops).", (
        Column("id", "INTEGER PRIMARY KEY", "", "Row id."),
        Column("session_id", "INTEGER REFERENCES sessions(id)", "", "sessions.id; NULL for box-level events."),
        Column("t_ns", "INTEGER NOT NULL", "ns since Unix epoch", "When it happened."),
        Column("kind", "TEXT NOT NULL", "", "Event kind, one of: " + "; ".join(
            f"{k} ({v[0].lower() + v[1:].rstrip('.')})" for k, v in EVENT_KINDS.items()) + "."),
        Column("detail", "TEXT", "", "Human-readable detail or JSON; NULL when none."),
    )),
    Table("mqtt_outbox", "Events waiting for the MQTT broker's acknowledgement (store/outbox.py): a row is added with "
          "each event raised while MQTT is configured and deleted on PUBACK. Not research data: dumps leave it out.", (
        Column("event_id", "INTEGER PRIMARY KEY REFERENCES events(id)", "", "events.id of the event to deliver."),
        Column("queued_at_ns", "INTEGER NOT NULL", "ns since Unix epoch", "When it was queued."),
    )),
    Table("session_dumps", "Each finished session's dump and whether it has been pulled off the box "
          "(store/retention.py): store.keep_days deletes a session only once it is pulled. A row is added when the "
          "box writes the session's pending dump to store.dump_dir (or finds one there complete), or when "
          "`agma dump --ack` acknowledges it. Not research data: dumps leave it out. Added in schema version 6.", (
        Column("session_id", "INTEGER PRIMARY KEY REFERENCES sessions(id)", "", "sessions.id."),
        Column("path", "TEXT", "", "Absolute path of the pending dump the box wrote or found; NULL when it has none "
               "(the session was only acknowledged)."),
        Column("sha256", "TEXT", "", "sha256 of that pending dump (its .sha256 file's); NULL when there is none."),
        Column("written_at_ns", "INTEGER", "ns since Unix epoch",
               "When the box wrote the pending dump, or first found it complete; NULL when there is none."),
        Column("pulled_at_ns", "INTEGER", "ns since Unix epoch",
               "When the dump counted as pulled: acknowledged, or its pending dump found removed; NULL until then."),
        Column("pulled_by", f"TEXT CHECK (pulled_by IN ({_PULLED_BY_SQL}))", "",
               "How: ack (`agma dump --ack UID`), removed (the pending dump was removed from its folder by the "
               "puller, e.g. rsync --remove-source-files); NULL until pulled."),
    )),
    Table("ground_truth", "Simulation and annotated replays only: the true joints of each stored frame.", (
        Column("session_id", "INTEGER NOT NULL", "", "sessions.id."),
        Column("frame_index", "INTEGER NOT NULL", "", "frames.frame_index."),
        Column("joint", "INTEGER NOT NULL", "", "Joint index."),
        Column("x_mm", "REAL NOT NULL", "mm", "True X, left rectified camera frame."),
        Column("y_mm", "REAL NOT NULL", "mm", "True Y."),
        Column("z_mm", "REAL NOT NULL", "mm", "True Z."),
        Column("left_u", "REAL NOT NULL", "px", "True column in the left rectified image."),
        Column("left_v", "REAL NOT NULL", "px", "True row in the left rectified image."),
        Column("right_u", "REAL NOT NULL", "px", "True column in the right rectified image."),
        Column("right_v", "REAL NOT NULL", "px", "True row in the right rectified image."),
    ), constraints=("PRIMARY KEY (session_id, frame_index, joint)",), without_rowid=True),
)
TABLE_BY_NAME = {t.name: t for t in TABLES}


@dataclass(frozen=True)
class View:
    """A view over one table whose columns are documented like a table's (each with its expression)."""

    name: str
    doc: str
    source: str
    columns: tuple[Column, ...]

    def ddl(self) -> str:
        cols = ",\n       ".join(c.name if c.expr == c.name else f"{c.expr} AS {c.name}" for c in self.columns)
        return f"CREATE VIEW IF NOT EXISTS {self.name} AS\nSELECT {cols}\nFROM {self.source};"


_REASON_CASE = ("CASE invalid_code " + " ".join(f"WHEN {c} THEN '{r}'" for c, r in INVALID_REASON_CODES) + " END")

JOINTS_VIEW = View(
    "joints",
    "One row per frame and joint: the 3D position and the 2D evidence it was computed from. A view over "
    "`joint_samples` (compact storage): values are rounded to 0.01 mm, 0.001 px and 1e-4 (scores); "
    "`confidence` and `epipolar_px` are computed from the stored scores and rows.",
    "joint_samples",
    (
        Column("session_id", "INTEGER", "", "sessions.id.", "session_id"),
        Column("frame_index", "INTEGER", "", "frames.frame_index.", "frame_index"),
        Column("joint", "INTEGER", "", "Joint index (joint_names).", "joint"),
        Column("x_mm", "REAL", "mm", "X in the left rectified camera frame (right), to 0.01 mm; NULL when invalid_reason is set.",
               f"x_10um / {XYZ_SCALE}.0"),
        Column("y_mm", "REAL", "mm", "Y (down), to 0.01 mm; NULL when invalid.", f"y_10um / {XYZ_SCALE}.0"),
        Column("z_mm", "REAL", "mm", "Z (along the optical axis, distance from the camera), to 0.01 mm; NULL when invalid.",
               f"z_10um / {XYZ_SCALE}.0"),
        Column("confidence", "REAL", "", "min(left_score, right_score), computed; NULL when a view has no score.",
               f"min(left_score_e4, right_score_e4) / {SCORE_SCALE}.0"),
        Column("left_u", "REAL", "px", "Column in the left rectified image, to 0.001 px; NULL when not detected.", f"left_u_mpx / {UV_SCALE}.0"),
        Column("left_v", "REAL", "px", "Row in the left rectified image, to 0.001 px; NULL when not detected.", f"left_v_mpx / {UV_SCALE}.0"),
        Column("left_score", "REAL", "", "Left view's heatmap maximum (1 for the simulated keypoint model), to 1e-4.",
               f"left_score_e4 / {SCORE_SCALE}.0"),
        Column("right_u", "REAL", "px", "Column in the right rectified image, to 0.001 px; NULL when not detected.",
               f"right_u_mpx / {UV_SCALE}.0"),
        Column("right_v", "REAL", "px", "Row in the right rectified image, to 0.001 px; NULL when not detected.",
               f"right_v_mpx / {UV_SCALE}.0"),
        Column("right_score", "REAL", "", "Right view's heatmap maximum, to 1e-4.", f"right_score_e4 / {SCORE_SCALE}.0"),
        Column("epipolar_px", "REAL", "px", "|left_v - right_v|, computed from the stored rows (within 0.001 px); NULL when a view is missing.",
               f"abs(left_v_mpx - right_v_mpx) / {UV_SCALE}.0"),
        Column("invalid_reason", "TEXT", "",
               "NULL for a valid joint, else " + ", ".join(REASONS[:-1]) + " or " + REASONS[-1] + ".",
               _REASON_CASE),
    ),
)

TRAJECTORY_VIEW = """CREATE VIEW IF NOT EXISTS trajectory AS
SELECT s.uid AS session_uid, j.session_id, j.frame_index, f.t_ns, j.joint, n.name AS joint_name,
       j.x_mm, j.y_mm, j.z_mm, j.confidence, j.invalid_reason
FROM joints AS j
JOIN sessions AS s ON s.id = j.session_id
JOIN frames AS f ON f.session_id = j.session_id AND f.frame_index = j.frame_index
JOIN joint_names AS n ON n.joint = j.joint;"""
TRAJECTORY_DOC = ("One row per frame and joint with the session uid and joint name: "
                  "`SELECT t_ns, x_mm, y_mm, z_mm FROM trajectory WHERE session_uid = ? AND joint_name = 'left_wrist'`.")


def _sql_text(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def schema_statements() -> list[str]:
    """Every SQL statement of the current schema, in the order they must run, each ending with ';'.

    The tables, then the views (``joints`` before ``trajectory``, which reads it), then the fixed
    rows (joint names, schema version). The one list both ``create_schema`` and ``agma db schema``
    use, so the printed schema is the one a fresh database gets (``agma db schema | sqlite3 f``).
    Every statement is idempotent (IF NOT EXISTS, INSERT OR IGNORE).
    """
    names = ", ".join(f"({i}, {_sql_text(n)})" for i, n in enumerate(JOINT_NAMES))
    return ([t.ddl() for t in TABLES] + [JOINTS_VIEW.ddl(), TRAJECTORY_VIEW]
            + [f"INSERT OR IGNORE INTO joint_names(joint, name) VALUES {names};",
               f"INSERT OR IGNORE INTO meta(key, value) VALUES ('schema_version', {_sql_text(str(SCHEMA_VERSION))});"])


def create_schema(conn) -> None:
    """Create every table, the views and the fixed rows (idempotent, one transaction)."""
    with conn:
        for statement in schema_statements():
            conn.execute(statement)


def _cell(text: str) -> str:
    return text.replace("|", "\\|")  # a table cell of Markdown: |left_v - right_v| must not split it


def _view_section(v: View) -> list[str]:
    lines = [f"## View `{v.name}`", "", v.doc, "", "| column | type | unit | meaning |", "|---|---|---|---|"]
    lines += [f"| `{c.name}` | {c.decl} | {c.unit} | {_cell(c.meaning)} |" for c in v.columns]
    return lines + ["", "```sql", v.ddl(), "```", ""]


def docs_markdown() -> str:
    """docs/database.md, generated from TABLES and the views."""
    lines = ["# The database", "",
             "Generated by `agma db docs` from `appliance/store/schema.py` (a test keeps this file equal to it).",
             "Lengths are mm, image coordinates px of the rectified images with the origin at the centre of",
             "the top-left pixel, times ns since the Unix epoch. A missing value is NULL with its reason.", ""]
    for t in TABLES:
        if t.name == JOINTS_VIEW.source:  # researchers query the view: it comes first
            lines += _view_section(JOINTS_VIEW)
        lines += [f"## `{t.name}`", "", t.doc, "", "| column | type | unit | meaning |", "|---|---|---|---|"]
        lines += [f"| `{c.name}` | {c.decl.split()[0]} | {c.unit} | {_cell(c.meaning)} |" for c in t.columns]
        if t.constraints:
            lines += ["", "Constraints: " + "; ".join(t.constraints) + (" (WITHOUT ROWID)" if t.without_rowid else "") + "."]
        lines.append("")
    lines += ["## View `trajectory`", "", TRAJECTORY_DOC, "", "```sql", TRAJECTORY_VIEW, "```", ""]
    return "\n".join(lines)


def data_dictionary_rows() -> list[tuple[str, str, str, str]]:
    """(table_name, column_name, unit, meaning) for every column of TABLES and of the views.

    The rows of a dump's ``data_dictionary`` table. The ``joints`` view's columns carry their own
    descriptions (JOINTS_VIEW); a ``trajectory`` column is described by the column it is selected
    from (found by parsing TRAJECTORY_VIEW's select list and its FROM aliases), so it cannot drift
    from that column's own description.
    """
    import re

    rows = [(t.name, c.name, c.unit, c.meaning) for t in TABLES for c in t.columns]
    rows += [(JOINTS_VIEW.name, c.name, c.unit, c.meaning) for c in JOINTS_VIEW.columns]
    doc = {(t, c): (u, m) for t, c, u, m in rows}
    body = TRAJECTORY_VIEW.split(" AS\n", 1)[1]
    select, _, source = body.partition("\nFROM ")
    aliases = dict((a, t) for t, a in re.findall(r"\b(\w+)\s+AS\s+(\w+)\b", source))
    for item in select.replace("SELECT", "", 1).split(","):
        m = re.fullmatch(r"\s*(\w+)\.(\w+)(?:\s+AS\s+(\w+))?\s*", item)
        if m and (aliases.get(m.group(1)), m.group(2)) in doc:
            unit, meaning = doc[(aliases[m.group(1)], m.group(2))]
            rows.append(("trajectory", m.group(3) or m.group(2), unit, f"From {aliases[m.group(1)]}.{m.group(2)}: {meaning}"))
    return rows
