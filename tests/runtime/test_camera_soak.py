"""Soak: twenty pulled cables, then twenty hung cameras, in one session of one daemon, and nothing leaks.

Why: a box beside an incubator has its cable pulled and its camera hang many times over weeks; each
replacement of the capture process must leave nothing behind (a pipe, a mapped ring, a zombie), or
the daemon that never restarts (a daemon restart cannot fix a camera) would die of it in the end.
A real `agma daemon` with capture.process records one session through 20 `stop` faults (no frames
for 1 s, the process alive) and then 20 `hang` faults (the process blocks for ever: killed after
camera.hang_after_s and replaced), 2.5 s apart, so that with camera.restart_window_s = 6 s no more
than 3 fall in one window: twenty hangs spread over more than the restart window never make the
camera `error`. Short deadlines come from config (camera.lost_after_s, camera.hang_after_s).

Checked: the daemon process is the same one throughout and answers status with 21 source opens;
one session, `stopped`; the camera events are exactly 20 x (camera_lost, camera_restored) then
20 x (camera_lost, camera_restarted "hung", camera_restored), each after its fault's start; no
frame_index repeats and every frame is on the one camera clock; every stop is a hole of its own
with no frame inside it (a loaded machine may skip up to two live frames beside it, counted with
the strays), every hang a hole that begins at its start, give or take those two, and is followed
by frames again. The daemon's open file descriptors (within 3), its
RSS (growth under 30 MB) and threads are flat between the 5th cycle and the end; at each sample
the daemon has one capture child (no zombie), maps exactly one ring (the live one, not deleted),
and the child's own descriptors are the same in every generation. The figures are printed
(pytest -s) for the closing note. Waits are for states with generous deadlines; nothing is
derived from the machine's speed except that the daemon be ready within the first 12 s.
"""
from __future__ import annotations

import json
import os
import sqlite3
import time

from tests.helpers import wait_until

from .camera_clock import (EXACT_MODEL, FPS, camera_events, first_slot, read_session, slot_ns, source_origin)
from .daemon_env import ctl, daemon_env, running_daemon, session_rows, status, stop_daemon

LOST_AFTER_S, HANG_AFTER_S, RESTART_WINDOW_S = 0.4, 1.0, 6.0
STOPS = [(12.0 + 1.8 * k, 1.0) for k in range(20)]  # (start, duration) s since the source's origin
HANGS = [50.0 + 2.5 * k for k in range(20)]
SEED = 0
#: A live source on a loaded machine may skip up to EDGE - 1 frames beside a fault's gap as anywhere else.
EDGE = 3
FD_TOL, RSS_GROWTH_KB = 3, 30 * 1024


def _status_field(pid: int, name: str) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(name + ":"):
                return int(line.split()[1])
    raise AssertionError(f"/proc/{pid}/status has no {name}")


def _children(pid: int) -> list[tuple[int, str]]:
    """(pid, state letter) of every process whose parent is ``pid``."""
    out = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()  # after "pid (comm)": state, ppid, ...
        if int(fields[1]) == pid:
            out.append((int(entry), fields[0]))
    return out


def _shm_maps(pid: int) -> list[str]:
    """The distinct /dev/shm mappings of ``pid`` as /proc/<pid>/maps names them (" (deleted)" kept)."""
    with open(f"/proc/{pid}/maps") as f:
        return sorted({line.split(None, 5)[5].strip() for line in f
                       if len(line.split(None, 5)) == 6 and "/dev/shm/" in line})


def _sample(pid: int, label: str) -> dict:
    children = _children(pid)
    assert [state for _, state in children] in (["S"], ["R"]), f"{label}: the daemon's children {children}"
    [(child, _)] = children
    maps = _shm_maps(pid)
    rings = sorted(n for n in os.listdir("/dev/shm") if n.startswith(f"agma-cam-{pid}-"))
    assert len(rings) == 1 and maps == [f"/dev/shm/{rings[0]}"], f"{label}: rings {rings}, daemon maps {maps}"
    assert _shm_maps(child) == maps, f"{label}: the child maps {_shm_maps(child)}"
    return {"label": label, "fds": len(os.listdir(f"/proc/{pid}/fd")), "rss_kb": _status_field(pid, "VmRSS"),
            "threads": _status_field(pid, "Threads"), "child_fds": len(os.listdir(f"/proc/{child}/fd")),
            "child_rss_kb": _status_field(child, "VmRSS")}


def _quiet_after(db, restored: int, proc) -> None:
    """Wait until `restored` camera_restored events are in and the camera is back (no later camera_lost)."""
    def done():
        ev = camera_events(db)
        return sum(k == "camera_restored" for k, _, _ in ev) >= restored and ev[-1][0] == "camera_restored"
    wait_until(done, f"{restored} camera recoveries", proc=proc, every_s=0.02)


def test_twenty_stops_then_twenty_hangs(tmp_path):
    db = tmp_path / "box.sqlite"
    faults = [f"stop@{s:g}+{d:g}" for s, d in STOPS] + [f"hang@{s:g}+0" for s in HANGS]
    env = daemon_env(tmp_path, AGMA_CAPTURE__PROCESS="true", AGMA_SIM__FAULTS=json.dumps(faults),
                     AGMA_SIM__SEED=str(SEED), AGMA_CAMERA__LOST_AFTER_S=str(LOST_AFTER_S),
                     AGMA_CAMERA__HANG_AFTER_S=str(HANG_AFTER_S), AGMA_CAMERA__RESTART_WINDOW_S=str(RESTART_WINDOW_S),
                     **EXACT_MODEL)
    not_before_ns = time.time_ns()
    samples = []
    with running_daemon(env) as proc:
        pid = proc.pid
        code, started = ctl(env, "start")
        assert code == 0, started
        for restored, label in ((5, "after 5 stops"), (20, "after 20 stops"), (25, "after 5 hangs"),
                                (40, "after 20 hangs")):
            _quiet_after(db, restored, proc)
            samples.append(_sample(pid, label))
        st = status(env)
        assert st["state"] == "recording" and st["camera"] == "ok" and st["source_opens"] == 1 + len(HANGS), st
        code, stopped = ctl(env, "stop")
        assert code == 0 and stopped["session_id"] == started["session_id"]
        assert proc.pid == pid and proc.poll() is None  # the daemon was never replaced
        assert stop_daemon(proc) == 0, proc.log.text()
    assert not [n for n in os.listdir("/dev/shm") if n.startswith(f"agma-cam-{pid}-")], "a capture ring was left behind"
    for s in samples:
        print(f"soak {s['label']}: daemon fds {s['fds']}, RSS {s['rss_kb'] / 1024:.1f} MB, threads {s['threads']}; "
              f"capture child fds {s['child_fds']}, RSS {s['child_rss_kb'] / 1024:.1f} MB")
    base = samples[0]
    for s in samples[1:]:
        assert abs(s["fds"] - base["fds"]) <= FD_TOL, samples
        assert s["rss_kb"] - base["rss_kb"] < RSS_GROWTH_KB, samples
        assert s["threads"] <= base["threads"] + 2, samples
        assert s["child_fds"] == base["child_fds"], samples

    [row] = session_rows(db)
    assert row["end_reason"] == "stopped"
    conn = sqlite3.connect(db)
    try:
        errors = conn.execute("SELECT kind, detail FROM events WHERE kind = 'error'").fetchall()
    finally:
        conn.close()
    assert not errors, errors  # twenty hangs spread out never make the camera `error`
    events = camera_events(db)
    kinds = [k for k, _, _ in events]
    assert kinds == ["camera_lost", "camera_restored"] * len(STOPS) + \
        ["camera_lost", "camera_restarted", "camera_restored"] * len(HANGS), kinds
    assert [d for k, _, d in events if k == "camera_restarted"] == ["hung"] * len(HANGS)

    s = read_session(db, row["id"])
    assert len(s.index) == row["frames"] and len(set(s.index)) == len(s.index)  # no frame_index repeats
    i0, origin = source_origin(s, SEED, not_before_ns)
    assert i0 < first_slot(STOPS[0][0]), f"the session began (source frame {i0}) after the first fault"
    counters = [i0 + i for i in s.index]
    assert all(abs(t - slot_ns(origin, c)) <= 2 for c, t in zip(counters, s.t_ns)), "a frame off the camera's clock"
    have = set(counters)
    lost = [t for k, t, _ in events if k == "camera_lost"]
    back = [t for k, t, _ in events if k == "camera_restored"]
    # each stop: no frame from its start to its end, frames on both sides (a loaded machine may skip a
    # live frame or two beside the gap too: the ring hands over the newest pair)
    for k, (start, dur) in enumerate(STOPS):
        a, b = first_slot(start), first_slot(start + dur)
        assert have & set(range(a - EDGE, a)) and have & set(range(b, b + EDGE)) and not have & set(range(a, b)), \
            (start, dur)
        assert lost[k] >= slot_ns(origin, a) and back[k] >= slot_ns(origin, b), k
    # each hang: the frame before its start present, then a hole, then frames in a row again
    for k, start in enumerate(HANGS):
        a = first_slot(start)
        after = min(c for c in counters if c >= a)
        assert have & set(range(a - EDGE, a)) and have & set(range(after + 1, after + 1 + EDGE)), (start, a, after)
        assert after - a >= round(HANG_AFTER_S * FPS) - 2, (start, after - a)  # killed hang_after_s later
        assert lost[len(STOPS) + k] >= slot_ns(origin, a) and back[len(STOPS) + k] >= slot_ns(origin, after), k
    # every fault's gap is a hole of its own; elsewhere a live source may skip a frame or two when a
    # loaded machine falls behind (the ring hands over the newest pair), never more
    gaps = [range(first_slot(st), first_slot(st + d)) for st, d in STOPS] + \
        [range(first_slot(st), min(c for c in counters if c >= first_slot(st))) for st in HANGS]
    holes = [(x, y) for x, y in zip(counters, counters[1:]) if y - x > 1]

    def around(hole, g):  # the hole is this fault's gap, widened by at most EDGE - 1 skipped live frames per side
        x, y = hole
        return g.start - EDGE <= x < g.start and g.stop <= y < g.stop + EDGE

    assert all(sum(around(h, g) for h in holes) == 1 for g in gaps), "a fault's gap is not a hole of its own"
    # frames skipped outside the faults: stray holes, and what widened a fault's hole
    stray = [(x, y) for x, y in holes if not any(around((x, y), g) for g in gaps)]
    skipped = sum(y - x - 1 for x, y in stray) + sum((g.start - x - 1) + (y - g.stop)
                                                      for x, y in holes for g in gaps if around((x, y), g))
    assert all(y - x - 1 <= 5 for x, y in stray) and skipped <= 0.01 * len(counters), \
        f"frames lost outside the faults (source counters): {stray[:10]}"
