"""Replays: a folder of recorded stereo frames, its calibration, and (optionally) ground truth.

Layout written by :func:`write_replay` (and read by :class:`ReplaySource`)::

    DIR/
      stereo.mkv        side-by-side video, each frame (H, 2W, 3) BGR, left half = left view,
                        FFV1 (lossless). Or, where OpenCV cannot write FFV1 losslessly:
      images/           left_000000.png, right_000000.png, ... (lossless)
      SN<serial>.conf   the calibration of the images *as stored* (a ZED factory-format file)
      frames.npz        index (F,) int64 frame indices, t_ns (F,) int64 capture times (ns, Unix epoch)
      truth.npz         optional ground truth: xyz_mm (F, 17, 3) float64 (left rectified camera
                        frame, mm), left_uv_px, right_uv_px (F, 17, 2) float64 (rectified px),
                        present (F,) bool (False: that frame had no truth; its rows are NaN)
      replay.json       written last: format, version, frames, fps, width, height, resolution,
                        serial, file names, codec

Atomicity: everything is written into a hidden sibling folder ``.DIR.partial-<random>``,
``replay.json`` last, then the folder is renamed to ``DIR`` in one step. A replay folder either
is complete or does not exist; an interrupted write leaves a ``.DIR.partial-*`` folder (no
``replay.json``), which the reader names as such.

Frames reaching the writer are rectified (StereoFrame's contract), so by default the written
``.conf`` describes an already rectified rig: both eyes with the frames' fx, fy, cx, cy, zero
distortion, zero rotation, TY = TZ = 0 and their baseline. The rectifier passes such a rig
through unchanged (see :mod:`.rectify`), so a replay yields exactly the recorded pixels and
exactly the recorded intrinsics.

A folder without ``replay.json`` is accepted when it holds one side-by-side video (or an
``images/`` folder of pairs) and one ``SN<serial>.conf``: a recording of the raw camera, say.
Its views are rectified with the file, its resolution is inferred from the frame size, its
frame rate from the container (30 for images), its timestamps from the replay's start.

Codec measurements (development machine: x86-64, shared and loaded, OpenCV 5.0 with FFmpeg; one
2560x720 side-by-side frame; "synthetic" = the synthetic scene's drawings, "camera-like" = a
drawing with 0-5 grey levels of noise, as a sensor has). Every codec below read back exactly:

    codec            synthetic: MB/frame  write  read     camera-like: MB/frame  write  read (ms)
    FFV1 (.mkv)                 0.063      30     9                    2.33       88     54
    HuffYUV (.avi)              1.52        8     8                    2.90       16     17
    PNG pairs                   0.50       15    11                    2.37       44     29
    MJPG (.avi), mp4v (.mp4): lossy (max error 170-200 grey levels), never used.

FFV1 is the default (``codec="auto"``): lossless, standard (FFmpeg, archival use), and 24x
smaller than HuffYUV on synthetic sessions. On camera footage FFV1 decodes at ~50 ms per
frame here, too slow to replay 30 fps paced: write such recordings with ``codec="huffyuv"``.
"auto" falls back to PNG pairs where this OpenCV cannot write FFV1 exactly (a probe clip is
written and read back first).
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import shutil
import tempfile
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import AgmaError, ConfigError
from ..files import fsync_dir, fsync_file
from ..frames import GroundTruth, RectifiedCalibration, StereoFrame
from ..joints import NUM_JOINTS
from .rectify import rectifier_from_file
from .zed_calibration import RESOLUTIONS, CameraIntrinsics, StereoExtrinsics, parse_zed_conf, zed_conf_text

log = logging.getLogger(__name__)

FORMAT = "agma-replay"
VERSION = 1
MANIFEST = "replay.json"
FRAMES_FILE = "frames.npz"
TRUTH_FILE = "truth.npz"
IMAGES_DIR = "images"
VIDEO_EXTENSIONS = (".mkv", ".avi", ".mp4", ".mov")
#: codec name -> (fourcc, file name)
CODECS = {"ffv1": ("FFV1", "stereo.mkv"), "huffyuv": ("HFYU", "stereo.avi")}
_TRUTH_ROWS = ".truth.rows"
_NAN_ROW = np.full(NUM_JOINTS * 7, np.nan)  # xyz (3) + left uv (2) + right uv (2) per joint

__all__ = ["ReplayInfo", "ReplayWriter", "write_replay", "ReplaySource", "rectified_conf_text", "codec_is_lossless"]


def rectified_conf_text(calibration: RectifiedCalibration) -> str:
    """A ZED-format .conf describing already rectified views: both eyes with ``calibration``'s
    pinhole, zero distortion, zero rotation, TY = TZ = 0, its baseline. Parses back exactly."""
    cam = CameraIntrinsics(
        fx=float(calibration.fx), fy=float(calibration.fy), cx=float(calibration.cx), cy=float(calibration.cy),
        k1=0.0, k2=0.0, p1=0.0, p2=0.0, k3=0.0,
    )
    stereo = StereoExtrinsics(baseline_mm=float(calibration.baseline_mm), ty_mm=0.0, tz_mm=0.0, rx=0.0, cv=0.0, rz=0.0)
    res = calibration.resolution if calibration.resolution in RESOLUTIONS else "HD720"
    comment = (
        f"Written by agma for already rectified views ({calibration.width}x{calibration.height}, "
        f"from {calibration.source}, serial {calibration.serial}): zero distortion and rotation."
    )
    return zed_conf_text(cam, cam, stereo, res, comment=comment)


def _safe_serial(serial: str | None) -> str:
    s = re.sub(r"[^A-Za-z0-9_-]", "", str(serial or ""))
    return s or "replay"


def codec_is_lossless(codec: str, workdir: str | Path) -> bool:
    """Write and read back a small random side-by-side clip with ``codec``; True when exact."""
    import cv2

    fourcc, name = CODECS[codec]
    path = Path(workdir) / f".probe-{name}"
    rng = np.random.default_rng(0)
    frames = [rng.integers(0, 256, (32, 64, 3), dtype=np.uint8) for _ in range(2)]
    try:
        w = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*fourcc), 30.0, (64, 32))
        if not w.isOpened():
            return False
        for f in frames:
            w.write(f)
        w.release()
        cap = cv2.VideoCapture(str(path))
        try:
            for f in frames:
                ok, g = cap.read()
                if not ok or g is None or g.shape != f.shape or not np.array_equal(g, f):
                    return False
        finally:
            cap.release()
        return True
    except cv2.error:
        return False
    finally:
        path.unlink(missing_ok=True)


@dataclass(frozen=True)
class ReplayInfo:
    """What a finished write produced: folder, frame count and rate, view size, storage, bytes."""

    path: Path
    frames: int
    fps: float
    width: int
    height: int
    storage: str  # "video" or "images"
    codec: str  # "FFV1", "HFYU" or "PNG"
    has_truth: bool
    bytes: int
    write_s: float


class ReplayWriter:
    """Writes a replay folder frame by frame: ``write(frame)`` ..., then ``finish()`` (or ``abort()``).

    dir: the replay folder to create (must not exist, or be empty). fps: the recorded frame
    rate. calibration: None (the frames' own RectifiedCalibration, written as an already
    rectified rig), a RectifiedCalibration, or the text of a factory .conf written verbatim
    (only for frames whose images are the camera's *raw* views). codec: "auto" (FFV1 when it
    round-trips exactly here, else PNG pairs), "ffv1", "huffyuv" or "png".
    Also a context manager: finishes on a clean exit, aborts on an exception.
    """

    def __init__(self, dir: str | Path, fps: float, calibration: RectifiedCalibration | str | None = None,
                 codec: str = "auto") -> None:
        if not fps > 0:
            raise ValueError(f"fps must be positive, got {fps!r}")
        if codec not in ("auto", "png", *CODECS):
            raise ValueError(f"codec must be auto, png, {', '.join(CODECS)}; got {codec!r}")
        self.dir = Path(dir)
        if self.dir.exists() and (not self.dir.is_dir() or any(self.dir.iterdir())):
            raise AgmaError(f"{self.dir} already exists and is not an empty folder: a replay is never written over anything")
        self.dir.parent.mkdir(parents=True, exist_ok=True)
        self.fps = float(fps)
        self._calibration = calibration
        self._tmp = Path(tempfile.mkdtemp(prefix=f".{self.dir.name}.partial-", dir=self.dir.parent))
        if codec == "auto":
            codec = "ffv1" if codec_is_lossless("ffv1", self._tmp) else "png"
            if codec == "png":
                log.warning("this OpenCV cannot write FFV1 losslessly; the replay is stored as PNG pairs")
        self.codec = codec
        self._writer = None
        self._size: tuple[int, int] | None = None
        self._first_calib: RectifiedCalibration | None = None
        self._first_sbs: np.ndarray | None = None
        self._index: list[int] = []
        self._t_ns: list[int] = []
        # ground truth goes to disk frame by frame (an hour at 30 fps is 100 MB of it), 119 float64 a row
        self._truth_file = open(self._tmp / _TRUTH_ROWS, "wb")
        self._truth_present: list[bool] = []
        self._t0 = time.perf_counter()
        self._done = False

    def __enter__(self) -> ReplayWriter:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if self._done:
            return
        if exc_type is None:
            self.finish()
        else:
            self.abort()

    def write(self, frame: StereoFrame) -> None:
        """Append one frame; its views must be (H, W, 3) uint8 and match the first frame's."""
        import cv2

        if self._done:
            raise RuntimeError("the replay is already finished or aborted")
        left, right = frame.left, frame.right
        if self._size is None:
            c = frame.calibration
            self._first_calib = c
            self._size = (int(left.shape[1]), int(left.shape[0]))
            if self._size != (c.width, c.height):
                raise ValueError(
                    f"frame {frame.index}: views are {self._size[0]}x{self._size[1]} but their calibration says "
                    f"{c.width}x{c.height} (a source without rendered images cannot be written as a replay)"
                )
            if self.codec in CODECS:
                fourcc, name = CODECS[self.codec]
                w, h = self._size
                self._writer = cv2.VideoWriter(str(self._tmp / name), cv2.VideoWriter_fourcc(*fourcc), self.fps, (2 * w, h))
                if not self._writer.isOpened():
                    raise AgmaError(f"OpenCV cannot write {fourcc} video to {self._tmp / name}")
            else:
                (self._tmp / IMAGES_DIR).mkdir()
        w, h = self._size
        for name, img in (("left", left), ("right", right)):
            if img.shape != (h, w, 3) or img.dtype != np.uint8:
                raise ValueError(f"frame {frame.index}: {name} view is {img.shape} {img.dtype}, expected ({h}, {w}, 3) uint8")
        if frame.calibration != self._first_calib:
            raise ValueError(f"frame {frame.index}: calibration differs from the first frame's")
        if self._index and frame.index <= self._index[-1]:
            raise ValueError(f"frame indices must increase: {frame.index} after {self._index[-1]}")
        n = len(self._index)
        if self._writer is not None:
            sbs = np.hstack([left, right])
            if n == 0:
                self._first_sbs = sbs
            self._writer.write(sbs)
        else:
            for name, img in (("left", left), ("right", right)):
                p = self._tmp / IMAGES_DIR / f"{name}_{n:06d}.png"
                if not cv2.imwrite(str(p), img):
                    raise AgmaError(f"cannot write {p}")
        self._index.append(int(frame.index))
        self._t_ns.append(int(frame.t_ns))
        t = frame.truth
        if t is None:
            self._truth_file.write(_NAN_ROW.tobytes())
        else:
            row = np.concatenate([np.asarray(t.xyz_mm, np.float64).reshape(-1), np.asarray(t.left_uv_px, np.float64).reshape(-1),
                                  np.asarray(t.right_uv_px, np.float64).reshape(-1)])
            if row.shape != _NAN_ROW.shape:
                raise ValueError(f"frame {frame.index}: ground truth has the wrong shape")
            self._truth_file.write(row.tobytes())
        self._truth_present.append(t is not None)

    def abort(self) -> None:
        """Drop everything written so far (the partial folder is removed)."""
        self._done = True
        if self._writer is not None:
            self._writer.release()
        self._truth_file.close()
        shutil.rmtree(self._tmp, ignore_errors=True)

    def finish(self) -> ReplayInfo:
        """Close the video, write calibration, indices, truth, then replay.json, then move into place."""
        import cv2

        if self._done:
            raise RuntimeError("the replay is already finished or aborted")
        try:
            if not self._index:
                raise AgmaError("no frames to write: a replay needs at least one frame")
            return self._finish(cv2)
        except BaseException:
            self.abort()
            raise

    def _finish(self, cv2) -> ReplayInfo:
        self._done = True
        n = len(self._index)
        w, h = self._size
        calib = self._first_calib if self._calibration is None else self._calibration
        video_name = None
        fourcc = "PNG"
        if self._writer is not None:
            self._writer.release()
            fourcc, video_name = CODECS[self.codec]
            self._verify_video(cv2, self._tmp / video_name, n)
        if isinstance(calib, str):
            conf_text = calib
            serial = _safe_serial(self._first_calib.serial)
        else:
            conf_text = rectified_conf_text(calib)
            serial = _safe_serial(calib.serial)
        conf_name = f"SN{serial}.conf"
        resolution = self._first_calib.resolution if self._first_calib.resolution in RESOLUTIONS else "HD720"
        parse_zed_conf(conf_text, resolution, where=conf_name)  # never write a calibration we cannot read back
        (self._tmp / conf_name).write_text(conf_text, encoding="utf-8")
        with open(self._tmp / FRAMES_FILE, "wb") as f:
            np.savez(f, index=np.asarray(self._index, np.int64), t_ns=np.asarray(self._t_ns, np.int64))
        self._truth_file.close()
        has_truth = any(self._truth_present)
        if has_truth:
            rows = np.memmap(self._tmp / _TRUTH_ROWS, dtype=np.float64, mode="r", shape=(n, _NAN_ROW.size))
            j = NUM_JOINTS
            with open(self._tmp / TRUTH_FILE, "wb") as f:
                np.savez(f, xyz_mm=rows[:, : 3 * j].reshape(n, j, 3), left_uv_px=rows[:, 3 * j : 5 * j].reshape(n, j, 2),
                         right_uv_px=rows[:, 5 * j :].reshape(n, j, 2), present=np.asarray(self._truth_present, bool))
            del rows
        (self._tmp / _TRUTH_ROWS).unlink()
        manifest = {
            "format": FORMAT,
            "version": VERSION,
            "frames": n,
            "fps": self.fps,
            "width": w,
            "height": h,
            "resolution": resolution,
            "serial": self._first_calib.serial,
            "recorded_from": self._first_calib.source,
            "calibration_file": conf_name,
            "calibration_sha256": hashlib.sha256(conf_text.encode("utf-8")).hexdigest(),
            "views_rectified": not isinstance(calib, str),
            "storage": "video" if video_name else "images",
            "video": video_name,
            "images": None if video_name else IMAGES_DIR,
            "codec": fourcc,
            "frames_file": FRAMES_FILE,
            "truth_file": TRUTH_FILE if has_truth else None,
            "written_ns": time.time_ns(),
        }
        for p in self._tmp.rglob("*"):
            if p.is_file():
                fsync_file(p)
        tmp_manifest = self._tmp / (MANIFEST + ".tmp")
        tmp_manifest.write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
        fsync_file(tmp_manifest)
        os.replace(tmp_manifest, self._tmp / MANIFEST)
        for d in [*(p for p in self._tmp.rglob("*") if p.is_dir()), self._tmp]:  # their entries too
            fsync_dir(d)
        size = sum(p.stat().st_size for p in self._tmp.rglob("*") if p.is_file())
        os.rename(self._tmp, self.dir)  # replaces an empty DIR; atomic on one filesystem
        fsync_dir(self.dir.parent)
        return ReplayInfo(self.dir, n, self.fps, w, h, manifest["storage"], fourcc, has_truth, size,
                          time.perf_counter() - self._t0)

    def _verify_video(self, cv2, path: Path, n: int) -> None:
        cap = cv2.VideoCapture(str(path))
        try:
            count = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
            ok, first = cap.read()
        finally:
            cap.release()
        if not ok or first is None or not np.array_equal(first, self._first_sbs):
            raise AgmaError(f"{path.name} does not read back exactly: the {self.codec} writer is not lossless here")
        if count > 0 and count != n:
            raise AgmaError(f"{path.name} holds {count} frames, {n} were written")


def write_replay(
    dir: str | Path,
    frames: Iterable[StereoFrame],
    fps: float,
    calibration: RectifiedCalibration | str | None = None,
    codec: str = "auto",
) -> ReplayInfo:
    """Write ``frames`` as a replay folder at ``dir`` (see the module docstring) and return what was written.

    calibration: None (the frames' own, as an already rectified rig), a RectifiedCalibration,
    or factory .conf text for raw views. Nothing appears at ``dir`` unless every frame was written.
    """
    writer = ReplayWriter(dir, fps, calibration, codec)
    try:
        for frame in frames:
            writer.write(frame)
    except BaseException:
        writer.abort()
        raise
    return writer.finish()


# ------------------------------------------------------------------------------------ read


class ReplaySource:
    """FrameSource reading a replay folder.

    dir: the folder. paced: True delivers at the recorded rate (the recorded t_ns spacing, else
    1/fps), like a camera; False as fast as asked. restamp: False keeps the recorded t_ns (the
    replayed session's rows line up with the original's); True stamps each frame with
    time.time_ns() at delivery. Frame indices are the recorded ones.
    """

    name = "replay"

    def __init__(self, dir: str | Path, paced: bool = True, restamp: bool = False) -> None:
        self.dir = Path(dir)
        self.paced = bool(paced)
        self.restamp = bool(restamp)
        self._closed = threading.Event()
        where = str(self.dir)
        if not self.dir.is_dir():
            raise ConfigError(where, None, "replay folder not found")
        if (self.dir / MANIFEST).is_file():
            self._open_manifest(where)
        else:
            self._open_plain(where)
        self.rectifier = rectifier_from_file(self._conf_path, self.resolution, image_size=(self.width, self.height),
                                             source=self.name)
        self.calibration = self.rectifier.calibration

    # -- opening

    def _open_manifest(self, where: str) -> None:
        try:
            m = json.loads((self.dir / MANIFEST).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ConfigError(where, MANIFEST, f"unreadable: {exc}") from None
        if not isinstance(m, dict) or m.get("format") != FORMAT:
            raise ConfigError(where, MANIFEST, f"not an {FORMAT} manifest")
        if m.get("version") != VERSION:
            raise ConfigError(where, MANIFEST, f"version {m.get('version')!r}; this agma reads version {VERSION}")
        try:
            self.n_frames = int(m["frames"])
            self.fps_nominal = float(m["fps"])
            self.width, self.height = int(m["width"]), int(m["height"])
            self.resolution = str(m["resolution"])
            self._conf_path = self.dir / m["calibration_file"]
            self._video = self.dir / m["video"] if m.get("video") else None
            self._images = self.dir / m["images"] if m.get("images") else None
            frames_file = m["frames_file"]
            truth_file = m.get("truth_file")
        except (KeyError, TypeError, ValueError) as exc:
            raise ConfigError(where, MANIFEST, f"missing or wrong entry: {exc}") from None
        self.manifest = m
        try:
            with np.load(self.dir / frames_file) as z:
                self._index = np.asarray(z["index"], np.int64)
                self._t_ns = np.asarray(z["t_ns"], np.int64)
        except (OSError, KeyError, ValueError) as exc:
            raise ConfigError(where, frames_file, f"unreadable: {exc}") from None
        if self._index.shape != (self.n_frames,) or self._t_ns.shape != (self.n_frames,):
            raise ConfigError(where, frames_file, f"holds {self._index.shape[0]} frames, replay.json says {self.n_frames}")
        self._truth = None
        if truth_file:
            try:
                with np.load(self.dir / truth_file) as z:
                    self._truth = {k: np.asarray(z[k]) for k in ("xyz_mm", "left_uv_px", "right_uv_px", "present")}
            except (OSError, KeyError, ValueError) as exc:
                raise ConfigError(where, truth_file, f"unreadable: {exc}") from None
            if self._truth["xyz_mm"].shape != (self.n_frames, NUM_JOINTS, 3):
                raise ConfigError(where, truth_file, f"xyz_mm is {self._truth['xyz_mm'].shape}, expected ({self.n_frames}, {NUM_JOINTS}, 3)")
        self.has_truth = self._truth is not None and bool(self._truth["present"].all())
        self._check_media(where)

    def _open_plain(self, where: str) -> None:
        if re.match(r"^\..+\.partial-", self.dir.name):
            raise ConfigError(where, None, "an interrupted --write-replay (no replay.json): write the replay again")
        confs = sorted(p for p in self.dir.iterdir() if p.is_file() and p.suffix.lower() == ".conf")
        videos = sorted(p for p in self.dir.iterdir() if p.is_file() and p.suffix.lower() in VIDEO_EXTENSIONS)
        images = self.dir / IMAGES_DIR
        if len(confs) != 1:
            raise ConfigError(where, None, f"not a replay folder: no {MANIFEST}, and {len(confs)} .conf files (want one SN<serial>.conf)")
        if len(videos) > 1 or (not videos and not images.is_dir()):
            raise ConfigError(where, None, f"not a replay folder: no {MANIFEST}, and not exactly one side-by-side video or an {IMAGES_DIR}/ folder")
        self._conf_path = confs[0]
        self._truth = None
        self.has_truth = False
        self.manifest = None
        if videos:
            import cv2

            self._video, self._images = videos[0], None
            cap = cv2.VideoCapture(str(self._video))
            try:
                if not cap.isOpened():
                    raise ConfigError(where, self._video.name, "OpenCV cannot open this video")
                sbs_w, h = int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)), int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT))
                self.fps_nominal = float(cap.get(cv2.CAP_PROP_FPS) or 30.0)
                # a container's frame count may be an estimate from its duration: read to the end
                self.n_frames = None
            finally:
                cap.release()
            self.width, self.height = sbs_w // 2, h
        else:
            self._video, self._images = None, images
            lefts = sorted(images.glob("left_*.png"))
            if not lefts:
                raise ConfigError(where, IMAGES_DIR, "no left_*.png images")
            self.n_frames = len(lefts)
            import cv2

            first = cv2.imread(str(lefts[0]))
            if first is None:
                raise ConfigError(where, f"{IMAGES_DIR}/{lefts[0].name}", "not a readable image")
            self.height, self.width = first.shape[:2]
            self.fps_nominal = 30.0
        match = [n for n, r in RESOLUTIONS.items() if (r.width, r.height) == (self.width, self.height)]
        if not match:
            raise ConfigError(where, None, f"views of {self.width}x{self.height} are no ZED resolution "
                                           f"({', '.join(f'{r.width}x{r.height}' for r in RESOLUTIONS.values())})")
        self.resolution = match[0]
        self._index = None  # frame indices count from 0
        self._t_ns = None  # stamped from the replay's start
        self._check_media(where)

    def _check_media(self, where: str) -> None:
        if self._video is not None and not self._video.is_file():
            raise ConfigError(where, self._video.name, "video missing")
        if self._images is not None and not self._images.is_dir():
            raise ConfigError(where, IMAGES_DIR, "images folder missing")
        if not self._conf_path.is_file():
            raise ConfigError(where, self._conf_path.name, "calibration file missing")

    # -- reading

    def _pairs(self) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        import cv2

        w = self.width
        if self._video is not None:
            cap = cv2.VideoCapture(str(self._video))
            try:
                while True:
                    ok, sbs = cap.read()
                    if not ok or sbs is None:
                        return
                    if sbs.shape[:2] != (self.height, 2 * w):
                        raise AgmaError(f"{self._video}: a {sbs.shape[1]}x{sbs.shape[0]} frame in a {2 * w}x{self.height} replay")
                    yield np.ascontiguousarray(sbs[:, :w]), np.ascontiguousarray(sbs[:, w:])
            finally:
                cap.release()
        else:
            for i in range(self.n_frames):
                pair = []
                for name in ("left", "right"):
                    p = self._images / f"{name}_{i:06d}.png"
                    img = cv2.imread(str(p), cv2.IMREAD_COLOR)
                    if img is None:
                        raise AgmaError(f"{p}: missing or unreadable")
                    pair.append(img)
                yield pair[0], pair[1]

    def _truth_at(self, i: int) -> GroundTruth | None:
        t = self._truth
        if t is None or not t["present"][i]:
            return None
        return GroundTruth(xyz_mm=t["xyz_mm"][i].copy(), left_uv_px=t["left_uv_px"][i].copy(),
                           right_uv_px=t["right_uv_px"][i].copy())

    def frames(self) -> Iterator[StereoFrame]:
        """Frames in recorded order until the end of the replay or close()."""
        start_ns = time.time_ns()
        start_mono = time.monotonic()
        t_rec = self._t_ns
        delivered = 0
        for i, (left_raw, right_raw) in enumerate(self._pairs()):
            if self._closed.is_set() or (self.n_frames is not None and i >= self.n_frames):
                break
            offset_ns = int(t_rec[i] - t_rec[0]) if t_rec is not None else round(i * 1e9 / self.fps_nominal)
            if self.paced:
                delay = start_mono + offset_ns / 1e9 - time.monotonic()
                if delay > 0 and self._closed.wait(delay):
                    break
            left, right = self.rectifier.rectify(left_raw, right_raw)
            if self.restamp:
                t_ns = time.time_ns()
            elif t_rec is not None:
                t_ns = int(t_rec[i])
            else:
                t_ns = start_ns + offset_ns
            index = i if self._index is None else int(self._index[i])
            yield StereoFrame(index=index, t_ns=t_ns, left=left, right=right, calibration=self.calibration,
                              truth=self._truth_at(i), received_mono_ns=time.monotonic_ns())
            delivered += 1
        if self.n_frames is not None and delivered < self.n_frames and not self._closed.is_set():
            raise AgmaError(f"{self.dir}: only {delivered} of {self.n_frames} frames could be read")

    def close(self) -> None:
        self._closed.set()
