"""The other end of a frame ring, as a real process: ``python -m tests.capture.ring_peer ROLE NAME ...``.

Roles:
  write NAME [--slots S] [--width W] [--height H] [--frames N | --forever] [--wait-room]
        [--pace-s X] [--rest-every N --rest-s X] [--content pattern|random]
      create the ring (prints ``ready pid=P``), publish N pairs (index i, t_ns = T0 + i * DT_NS;
      sleeping X s after each, and the rest's X s after every N-th), print ``published N waits=K``
      (K: publishes that had to wait for room), then hold the ring, beating every 20 ms, until
      stdin says ``close`` (close and unlink it, print ``closed``, exit 0) or the process is killed.
      ``--forever`` publishes until killed.
  attach NAME
      attach as a reader, print the header as JSON, close, exit 0 (what a process that only
      attaches does).

And what the tests share: the pixel content a pair carries (so a reader can tell which publish
each image came from), a unique ring name whose segment is removed however the test ends, and a
writer started as a subprocess that is killed however the test ends.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import select
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator

import numpy as np

from appliance.capture.ring import FrameRing, RingReader, segment_path
from tests.helpers import Lines, spawned

#: t_ns of the pair with index i: T0_NS + i * DT_NS (30 fps on an epoch clock).
T0_NS = 1_700_000_000_000_000_000
DT_NS = 33_333_333
#: Added to the index in the right image's words, so left and right differ.
RIGHT_OFFSET = 1 << 40


def pattern_pair(index: int, height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    """(left, right) whose every row starts with index (left) or index + RIGHT_OFFSET (right), as 8 bytes.

    A torn copy (rows of one publish, rows of another) shows as rows that disagree. The arrays are
    reused from call to call (the ring copies them in), so marking a big image costs microseconds.
    """
    key = (height, width)
    if key not in _PATTERN_BUFFERS:
        assert width * 3 >= 8, "pattern images need rows of at least 8 bytes"
        _PATTERN_BUFFERS[key] = (np.full((height, width, 3), 0x5A, np.uint8), np.full((height, width, 3), 0xA5, np.uint8))
    left, right = _PATTERN_BUFFERS[key]
    _row_markers(left)[:] = index
    _row_markers(right)[:] = index + RIGHT_OFFSET
    return left, right


_PATTERN_BUFFERS: dict[tuple[int, int], tuple[np.ndarray, np.ndarray]] = {}


def _row_markers(image: np.ndarray) -> np.ndarray:
    """A writable (H,) view of the first 8 bytes of each row, as little-endian uint64."""
    rows = image.reshape(image.shape[0], -1)
    return np.ndarray((rows.shape[0],), dtype="<u8", buffer=rows, offset=0, strides=(rows.strides[0],))


def random_pair(index: int, height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    """(left, right) of random bytes seeded by index: a reader regenerates them to compare."""
    rng = np.random.default_rng(index)
    return (rng.integers(0, 256, (height, width, 3), dtype=np.uint8),
            rng.integers(0, 256, (height, width, 3), dtype=np.uint8))


def pattern_index(image: np.ndarray, offset: int = 0) -> set[int]:
    """The distinct indices a pattern image's rows carry (one element unless torn)."""
    return {int(v) - offset for v in np.unique(_row_markers(np.ascontiguousarray(image)))}


@contextlib.contextmanager
def ring_name(tag: str) -> Iterator[str]:
    """A ring name used by nobody else; its /dev/shm file is removed when the block is left."""
    name = f"agma-test-{tag}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    try:
        yield name
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(segment_path(name))


@contextlib.contextmanager
def writer(name: str, *args: str) -> Iterator[tuple[subprocess.Popen, Lines]]:
    """``ring_peer write NAME ARGS`` running, its ring created; (process, its stdout lines).

    The process is SIGKILLed and reaped when the block is left (tests/helpers.py: spawned).
    """
    cmd = [sys.executable, "-m", "tests.capture.ring_peer", "write", name, *args]
    with spawned(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                 text=True, encoding="utf-8") as proc:
        lines = Lines(proc.stdout)
        if not lines.wait_for(lambda line: line.startswith("ready")):
            proc.kill()
            raise AssertionError(f"ring writer did not start: {proc.stderr.read()}")
        yield proc, lines


def wait_published(lines: Lines) -> dict[str, int]:
    """The writer's ``published N waits=K`` line, as {"published": N, "waits": K}."""
    line = lines.wait_for(lambda text: text if text.startswith("published") else None)
    assert line, f"the writer never finished publishing: {lines.text()}"
    n, waits = line.split()[1:3]
    return {"published": int(n), "waits": int(waits.split("=")[1])}


def _hold(ring: FrameRing) -> int:
    """Beat until stdin says 'close' (0) or ends; then keep beating until killed."""
    stdin_open = True
    while True:
        ring.beat()
        if not stdin_open:
            time.sleep(0.02)
            continue
        ready, _, _ = select.select([sys.stdin], [], [], 0.02)
        if ready:
            line = sys.stdin.readline()
            if not line:
                stdin_open = False
            elif line.strip() == "close":
                ring.close(unlink=True)
                print("closed", flush=True)
                return 0


def _write(args) -> int:
    ring = FrameRing.create(args.name, slots=args.slots, width=args.width, height=args.height)
    print(f"ready pid={os.getpid()}", flush=True)
    content = pattern_pair if args.content == "pattern" else random_pair
    waits, i = 0, 0
    while args.forever or i < args.frames:
        if args.wait_room and not ring.has_room():
            waits += 1
            ring.wait_for_room()
        left, right = content(i, args.height, args.width)
        ring.publish(i, T0_NS + i * DT_NS, left, right)
        i += 1
        if args.pace_s:
            time.sleep(args.pace_s)
        if args.rest_every and i % args.rest_every == 0:
            time.sleep(args.rest_s)
    print(f"published {i} waits={waits}", flush=True)
    return _hold(ring)


def _attach(args) -> int:
    reader = RingReader.attach(args.name)
    print(json.dumps({"slots": reader.slots, "width": reader.width, "height": reader.height,
                      "writer_pid": reader.writer_pid, "write_seq": reader.write_seq}), flush=True)
    reader.close()
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="ring_peer")
    sub = parser.add_subparsers(dest="role", required=True)
    w = sub.add_parser("write")
    w.add_argument("name")
    w.add_argument("--slots", type=int, default=4)
    w.add_argument("--width", type=int, default=64)
    w.add_argument("--height", type=int, default=48)
    w.add_argument("--frames", type=int, default=0)
    w.add_argument("--forever", action="store_true")
    w.add_argument("--wait-room", action="store_true")
    w.add_argument("--pace-s", type=float, default=0.0)
    w.add_argument("--rest-every", type=int, default=0)
    w.add_argument("--rest-s", type=float, default=0.0)
    w.add_argument("--content", choices=("pattern", "random"), default="pattern")
    a = sub.add_parser("attach")
    a.add_argument("name")
    args = parser.parse_args(argv)
    return _write(args) if args.role == "write" else _attach(args)


if __name__ == "__main__":
    sys.exit(main())
