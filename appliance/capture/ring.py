"""The frame ring: rectified stereo pairs from the capture child process to the box, through shared memory.

The capture child (the one writer) owns a POSIX shared-memory segment ``/dev/shm/agma-...`` of N
slots and writes each rectified pair into the next slot in place; the box (the one reader) maps the
same segment and copies each pair out once. Nothing is pickled: a pair crosses as two memory copies
(into the slot, out of it) plus a few 8-byte header words (``bench_ring`` measures it against a
``multiprocessing.Queue``). Orin's integrated GPU has no CUDA IPC, so host memory is the crossing.

Layout (version 1, every field a native little-endian int64 at an 8-byte aligned offset, so each
is read and written as one aligned 8-byte store: numpy's scalar get/set on an aligned int64 array)::

    page 0 (4096 B)   ring header: MAGIC, VERSION, SLOTS, SLOT_BYTES, WIDTH, HEIGHT, PIXEL_FORMAT,
                      WRITER_PID, WRITER_START_TICKS, HEARTBEAT_NS, WRITE_SEQ, READ_SEQ, STATE
    slot k at 4096 + k * SLOT_BYTES:
        4096 B        slot header: SEQ_BEGIN, INDEX, T_NS, WIDTH, HEIGHT, STRIDE, PIXEL_FORMAT,
                      PUBLISHED_MONO_NS, SEQ_END
        H * STRIDE B  left image, (H, W, 3) uint8 BGR, page-aligned
        H * STRIDE B  right image, same

Sequence numbers start at 1 and grow by one per publish; publish ``seq`` goes to slot
``(seq - 1) % SLOTS``. Each slot is a seqlock with a begin/end pair: the writer stores SEQ_BEGIN =
seq, then the metadata and both images, then SEQ_END = seq, then the ring's WRITE_SEQ = seq (with a
memory fence between each step, see :func:`_fence`). A reader that wants ``seq`` reads SEQ_END
(must equal seq: the write is complete), copies the slot out, then re-reads SEQ_BEGIN (must still
equal seq: no later publish started meanwhile). Anything else is a torn or lapped read: retried
or counted, never returned.

Two ways to read (one reader per ring; it alone writes READ_SEQ):

- live, :meth:`RingReader.newest`: the newest complete pair; the older unread ones count as dropped;
- offline, :meth:`RingReader.next_in_order`: every pair in order. If the writer lapped the reader
  (overwrote a slot it had not read), the overrun is counted and reading resumes at the oldest pair
  still in the ring. A writer that must lose nothing calls :meth:`FrameRing.wait_for_room` before
  each publish: the reader publishes READ_SEQ, and the writer waits while ``seq - READ_SEQ >= SLOTS``.

Use::

    # the capture child (writer)
    ring = FrameRing.create("agma-camera", slots=4, width=1280, height=720)
    ring.publish(frame.index, frame.t_ns, frame.left, frame.right)   # per frame; ring.beat() while idle
    ring.close(unlink=True)                                           # clean stop
    # the box (reader)
    reader = RingReader.attach("agma-camera")
    pair = reader.newest()            # live; or reader.next_in_order() offline; None: nothing new
    stereo = pair.to_stereo_frame(calibration)
    # the supervisor judges the child from the header
    reader.heartbeat_age_s(), reader.writer_alive(), reader.write_seq

Liveness: the writer stores ``time.monotonic_ns()`` (CLOCK_MONOTONIC, one clock for every process
on the machine) in HEARTBEAT_NS at each publish and each idle turn (:meth:`FrameRing.beat`), so the
supervisor can tell a hung child (alive, heartbeat old) from an idle one. WRITER_PID and its start
time (``/proc/<pid>/stat`` field 22) identify the owner; a segment whose owner is gone (SIGKILLed, a
reused pid) is unlinked by :func:`unlink_stale`, which :meth:`FrameRing.create` runs first.

Resource tracker (why this module opens ``/dev/shm`` itself instead of ``multiprocessing.shared_memory``):
on Python 3.10-3.12 (and 3.13+ unless ``track=False``), ``SharedMemory(name)`` registers the segment with the resource tracker even
in a process that only attaches; when that process exits, the tracker unlinks the segment under
the writer's feet and prints "There appear to be N leaked shared_memory objects". The usual patch
(``resource_tracker.unregister`` right after attaching) still starts a tracker process in every
process that touches the ring, loses a registration when two processes share one tracker (it keeps
a set of names: the second unregister prints a KeyError traceback), unlinks the segment if the
process dies between register and unregister, and ``SharedMemory.unlink`` then unregisters again
(another traceback); and a tracker process left running beside pytest fails the tests' own
leave-nothing-running check. Python 3.13's ``track=False`` is the fix, but the box runs 3.10. So the ring
does what ``SharedMemory(track=False)`` does on Linux: ``shm_open`` is an ``open`` of a file in
``/dev/shm`` (shm_overview(7)), mapped with ``mmap``; the segment is still a POSIX shared-memory
object that ``SharedMemory(name)`` could attach to. No tracker is involved on any Python version,
and the ring's own rules decide its lifetime: the owner unlinks on a clean close, a dead owner's
segment is unlinked at the next open. Names start with ``agma-`` so a stray one is easy to find.
"""
from __future__ import annotations

import mmap
import os
import re
import threading
import time
from dataclasses import dataclass

import numpy as np

from ..errors import AgmaError
from ..frames import RectifiedCalibration, StereoFrame

#: Where Linux keeps POSIX shared-memory objects (shm_open(3) creates its files here).
SHM_DIR = "/dev/shm"
#: Every ring's name starts with this (so a leftover is easy to find in /dev/shm).
NAME_PREFIX = "agma-"
_NAME_RE = re.compile(r"^agma-[A-Za-z0-9._-]{1,200}$")

MAGIC = int.from_bytes(b"agmaring", "little")
LAYOUT_VERSION = 1
#: Ring header and slot headers each take one 4 KiB page, so every image starts page-aligned.
ALIGN = 4096

PIXEL_FORMAT_BGR8 = 1
#: code -> (name, bytes per pixel)
PIXEL_FORMATS = {PIXEL_FORMAT_BGR8: ("BGR8", 3)}

STATE_OPEN = 1
STATE_CLOSED = 2  # the writer closed the ring cleanly: no more publishes

# Ring header words (int64 indices into page 0).
(H_MAGIC, H_VERSION, H_SLOTS, H_SLOT_BYTES, H_WIDTH, H_HEIGHT, H_PIXEL_FORMAT, H_WRITER_PID,
 H_WRITER_START_TICKS, H_HEARTBEAT_NS, H_WRITE_SEQ, H_READ_SEQ, H_STATE) = range(13)
# Slot header words (int64 indices into the slot's first page).
(S_SEQ_BEGIN, S_INDEX, S_T_NS, S_WIDTH, S_HEIGHT, S_STRIDE, S_PIXEL_FORMAT, S_PUBLISHED_MONO_NS,
 S_SEQ_END) = range(9)

_WORDS_PER_PAGE = ALIGN // 8


class RingError(AgmaError):
    """The ring cannot be created or attached (missing, in use, not a ring, /dev/shm full)."""


# --- memory ordering -------------------------------------------------------------------------

_FENCE_LOCK = threading.Lock()


def _fence() -> None:
    """A full memory barrier between the shared-memory accesses before and after this call.

    The seqlock needs the writer's stores (begin, data, end) and the reader's loads (end, data,
    begin) to become visible in program order across processes. x86-64 keeps stores in order and
    loads in order, but not ARM (the Orin is aarch64), and Python offers no fence. A lock release
    followed by a lock acquire is one: the release (glibc ``sem_post``: a store-release) cannot be
    passed by an earlier access, the acquire (``sem_wait``: a load-acquire) by a later one, and a
    store-release followed by a load-acquire stays in order (ARMv8's ldar/stlr are RCsc; on x86
    both are locked instructions, which also drain non-temporal stores of a large memcpy). So:
    acquire, release, acquire, release. It costs well under a microsecond.
    """
    _FENCE_LOCK.acquire()
    _FENCE_LOCK.release()
    _FENCE_LOCK.acquire()
    _FENCE_LOCK.release()


# --- segment files ---------------------------------------------------------------------------

def _check_name(name: str) -> str:
    if not isinstance(name, str) or not _NAME_RE.match(name):
        raise RingError(f"ring name {name!r}: must be 'agma-' then 1-200 of A-Z a-z 0-9 . _ -")
    return name


def segment_path(name: str) -> str:
    """The file of ring ``name`` in /dev/shm."""
    return os.path.join(SHM_DIR, _check_name(name))


def _slot_bytes(width: int, height: int) -> int:
    image = height * width * PIXEL_FORMATS[PIXEL_FORMAT_BGR8][1]
    return -(-(ALIGN + 2 * image) // ALIGN) * ALIGN


def _segment_bytes(slots: int, slot_bytes: int) -> int:
    return ALIGN + slots * slot_bytes


def _start_ticks(pid: int) -> int | None:
    """The process's start time (clock ticks after boot, /proc/<pid>/stat field 22); None if gone or a zombie."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read().decode(errors="replace")
    except OSError:
        return None
    fields = stat[stat.rfind(")") + 2:].split()  # fields[0] is field 3 (state): comm may hold spaces
    if not fields or fields[0] in ("Z", "X", "x"):  # a zombie is dead, only waiting to be reaped
        return None
    return int(fields[19])


def _owner_alive(pid: int, start_ticks: int) -> bool:
    """Whether the process that wrote (pid, start_ticks) is still running (a reused pid is not it)."""
    if pid <= 0:
        return False
    if start_ticks == 0:  # the writer could not read its own start time: trust the pid alone
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True
    return _start_ticks(pid) == start_ticks


def _read_owner(path: str) -> tuple[int, int] | None:
    """(writer pid, its start ticks) from the ring header at ``path``; None when absent or too short."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return None
    try:
        head = os.pread(fd, 8 * (H_WRITER_START_TICKS + 1), 0)
    finally:
        os.close(fd)
    if len(head) < 8 * (H_WRITER_START_TICKS + 1):
        return (0, 0)
    words = np.frombuffer(head, dtype="<i8")
    return int(words[H_WRITER_PID]), int(words[H_WRITER_START_TICKS])


def unlink_stale(name: str) -> bool:
    """Unlink ring ``name`` if its writer is gone (killed, crashed); True when it removed one.

    A ring whose writer is alive is left alone (False), as is a name with no segment (False). A
    segment too short to hold a header, or with no writer pid yet, counts as stale: the writer
    stores its pid first, before anything else.
    """
    path = segment_path(name)
    owner = _read_owner(path)
    if owner is None or _owner_alive(*owner):
        return False
    try:
        os.unlink(path)
    except FileNotFoundError:  # someone else removed it meanwhile
        return False
    return True


def sweep_stale(prefix: str) -> list[str]:
    """Unlink every ring named ``prefix*`` whose writer is gone (``unlink_stale``); -> the names removed.

    A ring's name carries the pid of the process that asked for it, so a box restarted after a
    SIGKILL or a power loss never meets its predecessor's name again: without this sweep, each such
    restart would leave one ring's worth of RAM in /dev/shm until reboot.
    """
    try:
        names = [n for n in os.listdir(SHM_DIR) if n.startswith(prefix)]
    except FileNotFoundError:
        return []
    return [n for n in names if unlink_stale(n)]


class _Mapping:
    """A shared-memory file mapped read-write, with numpy views onto its header words."""

    def __init__(self, mm: mmap.mmap, slots: int, slot_bytes: int, width: int, height: int) -> None:
        self.mm = mm
        self.header = np.ndarray((_WORDS_PER_PAGE,), dtype="<i8", buffer=mm, offset=0)
        self.slot_headers = np.ndarray((slots, _WORDS_PER_PAGE), dtype="<i8", buffer=mm, offset=ALIGN,
                                       strides=(slot_bytes, 8))
        stride = width * 3
        image_shape = (slots, height, width, 3)
        image_strides = (slot_bytes, stride, 3, 1)
        self.left = np.ndarray(image_shape, dtype=np.uint8, buffer=mm, offset=2 * ALIGN, strides=image_strides)
        self.right = np.ndarray(image_shape, dtype=np.uint8, buffer=mm, offset=2 * ALIGN + height * stride,
                                strides=image_strides)

    def close(self) -> None:
        # mmap.close refuses while a view exports its buffer: drop every view first
        self.header = self.slot_headers = self.left = self.right = None
        self.mm.close()


# --- writer ----------------------------------------------------------------------------------

class FrameRing:
    """The writer side (the capture child): creates the segment, publishes pairs, beats while idle.

    Use :meth:`create`; one writer per ring. Not thread-safe: publish, beat and close from one thread.
    """

    def __init__(self, name: str, mapping: _Mapping, slots: int, width: int, height: int) -> None:
        self.name, self.slots, self.width, self.height = name, slots, width, height
        self.stride = width * 3
        self._map = mapping
        self._seq = 0

    @classmethod
    def create(cls, name: str, slots: int, width: int, height: int) -> FrameRing:
        """A new ring of ``slots`` slots for (height, width, 3) uint8 BGR pairs, named ``name``.

        A segment of that name left by a dead writer is unlinked first; one whose writer is alive
        is refused (RingError naming its pid). The memory is reserved at once (posix_fallocate), so
        a full /dev/shm is a RingError here rather than a SIGBUS at the first publish.
        """
        path = segment_path(name)
        if not (isinstance(slots, int) and slots >= 2):
            raise RingError(f"ring {name}: slots must be an integer >= 2, got {slots!r}")
        if not (isinstance(width, int) and isinstance(height, int) and width > 0 and height > 0):
            raise RingError(f"ring {name}: width and height must be positive integers, got {width!r} x {height!r}")
        unlink_stale(name)
        slot_bytes = _slot_bytes(width, height)
        size = _segment_bytes(slots, slot_bytes)
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
        except FileExistsError:
            owner = _read_owner(path)
            raise RingError(f"ring {name}: {path} is in use by the live writer pid {owner[0] if owner else '?'}") from None
        except OSError as e:
            raise RingError(f"ring {name}: cannot create {path}: {e.strerror}") from None
        try:
            try:
                os.posix_fallocate(fd, 0, size)
            except OSError as e:
                raise RingError(f"ring {name}: cannot reserve {size} bytes in {SHM_DIR}: {e.strerror} "
                                f"(free space: df -h {SHM_DIR})") from None
            mm = mmap.mmap(fd, size)
        except BaseException:
            os.close(fd)
            os.unlink(path)
            raise
        os.close(fd)  # the mapping keeps the memory; the name stays until unlinked
        mapping = _Mapping(mm, slots, slot_bytes, width, height)
        h = mapping.header
        h[H_WRITER_PID] = os.getpid()  # first: unlink_stale judges a half-made ring by it
        h[H_WRITER_START_TICKS] = _start_ticks(os.getpid()) or 0
        _fence()
        h[H_VERSION], h[H_SLOTS], h[H_SLOT_BYTES] = LAYOUT_VERSION, slots, slot_bytes
        h[H_WIDTH], h[H_HEIGHT], h[H_PIXEL_FORMAT] = width, height, PIXEL_FORMAT_BGR8
        h[H_WRITE_SEQ] = h[H_READ_SEQ] = 0
        h[H_STATE] = STATE_OPEN
        h[H_HEARTBEAT_NS] = time.monotonic_ns()
        _fence()
        h[H_MAGIC] = MAGIC  # last: a reader attaching earlier is told the ring is not ready
        return cls(name, mapping, slots, width, height)

    @property
    def seq(self) -> int:
        """The sequence number of the last publish (0 before the first)."""
        return self._seq

    @property
    def read_seq(self) -> int:
        """The last sequence number the reader took (0 before the first)."""
        return int(self._map.header[H_READ_SEQ])

    def beat(self) -> None:
        """Store the heartbeat (time.monotonic_ns) without publishing: the writer is alive and turning."""
        self._map.header[H_HEARTBEAT_NS] = time.monotonic_ns()

    def has_room(self) -> bool:
        """Whether the next publish overwrites only pairs the reader has already taken."""
        return self._seq - self.read_seq < self.slots

    def wait_for_room(self, timeout_s: float | None = None, poll_s: float = 0.0005) -> bool:
        """Wait (beating) until :meth:`has_room`; False after ``timeout_s`` (None: for ever).

        Offline use: a writer that calls this before each publish never laps the reader, so
        :meth:`RingReader.next_in_order` sees every pair.
        """
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        while not self.has_room():
            self.beat()
            if deadline is not None and time.monotonic() >= deadline:
                return False
            time.sleep(poll_s)
        return True

    def publish(self, index: int, t_ns: int, left: np.ndarray, right: np.ndarray) -> int:
        """Write one pair into the next slot; its sequence number.

        index: the source's frame index. t_ns: capture time, ns (the camera's clock).
        left, right: (height, width, 3) uint8 BGR rectified images (any strides; copied in once).
        Does not wait: a reader that is a whole ring behind is lapped (see :meth:`wait_for_room`).
        """
        shape = (self.height, self.width, 3)
        for side, image in (("left", left), ("right", right)):
            if not isinstance(image, np.ndarray) or image.shape != shape or image.dtype != np.uint8:
                got = f"{image.shape} {image.dtype}" if isinstance(image, np.ndarray) else type(image).__name__
                raise ValueError(f"ring {self.name}: {side} image must be {shape} uint8, got {got}")
        seq = self._seq + 1
        k = (seq - 1) % self.slots
        m = self._map
        slot = m.slot_headers[k]
        slot[S_SEQ_BEGIN] = seq  # from here on a reader of the old pair in this slot sees it torn
        _fence()
        slot[S_INDEX], slot[S_T_NS] = index, t_ns
        slot[S_WIDTH], slot[S_HEIGHT], slot[S_STRIDE] = self.width, self.height, self.stride
        slot[S_PIXEL_FORMAT] = PIXEL_FORMAT_BGR8
        np.copyto(m.left[k], left)
        np.copyto(m.right[k], right)
        now = time.monotonic_ns()
        slot[S_PUBLISHED_MONO_NS] = now
        _fence()
        slot[S_SEQ_END] = seq  # the pair is complete
        _fence()
        m.header[H_WRITE_SEQ] = seq
        m.header[H_HEARTBEAT_NS] = now
        self._seq = seq
        return seq

    def close(self, unlink: bool = True) -> None:
        """Mark the ring closed (no more publishes), unmap it and, with ``unlink``, remove its name.

        A reader still attached keeps its mapping (and can read what is left); the memory goes
        when the last mapping does. Idempotent.
        """
        if self._map is None:
            return
        self._map.header[H_STATE] = STATE_CLOSED
        self.beat()
        self._map.close()
        self._map = None
        if unlink:
            try:
                os.unlink(segment_path(self.name))
            except FileNotFoundError:
                pass

    def __enter__(self) -> FrameRing:
        return self

    def __exit__(self, *exc) -> None:
        self.close(unlink=True)


# --- reader ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class RingFrame:
    """One pair taken out of the ring; the arrays are the reader's own copies.

    seq: the ring's sequence number (from 1, +1 per publish). index: the source's frame index.
    t_ns: capture time, ns (the camera's clock). left, right: (H, W, 3) uint8 BGR.
    published_mono_ns: time.monotonic_ns() when the writer finished writing the slot.
    """

    seq: int
    index: int
    t_ns: int
    left: np.ndarray
    right: np.ndarray
    published_mono_ns: int

    def to_stereo_frame(self, calibration: RectifiedCalibration, received_mono_ns: int | None = None) -> StereoFrame:
        """The StereoFrame the pipeline takes (received now unless given)."""
        received = time.monotonic_ns() if received_mono_ns is None else received_mono_ns
        return StereoFrame(index=self.index, t_ns=self.t_ns, left=self.left, right=self.right,
                           calibration=calibration, received_mono_ns=received)


_LAPPED = "lapped"  # the slot already holds (or is being rewritten with) a later pair
_TORN = "torn"  # the writer started rewriting the slot while it was being copied
_NOT_YET = "not yet"  # the slot does not hold the pair yet


class RingReader:
    """The reader side (the box): attaches to a ring and takes pairs out of it; one reader per ring.

    Counters (since attach):
      returned: pairs returned.
      dropped: pairs published but never returned, up to the last one returned or skipped
        (the older unread ones :meth:`newest` passed over, those an overrun skipped).
      overruns: times :meth:`next_in_order` found the writer had lapped it and skipped forward.
      torn_retries: reads abandoned because the writer rewrote the slot just before or while it
        was copied (retried at once, up to ``max_retries`` per call).
    """

    def __init__(self, name: str, mapping: _Mapping, slots: int, width: int, height: int, max_retries: int) -> None:
        self.name, self.slots, self.width, self.height = name, slots, width, height
        self.max_retries = max_retries
        self._map = mapping
        self._last = 0
        self.returned = self.dropped = self.overruns = self.torn_retries = 0

    @classmethod
    def attach(cls, name: str, max_retries: int = 16) -> RingReader:
        """Map ring ``name`` (RingError when it is missing, not ready, or not a version-1 ring)."""
        path = segment_path(name)
        try:
            fd = os.open(path, os.O_RDWR | os.O_NOFOLLOW)
        except FileNotFoundError:
            raise RingError(f"ring {name}: no shared-memory segment {path} (is the capture process running?)") from None
        except OSError as e:
            raise RingError(f"ring {name}: cannot open {path}: {e.strerror}") from None
        try:
            size = os.fstat(fd).st_size
            if size < ALIGN:
                raise RingError(f"ring {name}: {path} is not ready ({size} bytes)")
            mm = mmap.mmap(fd, size)
        finally:
            os.close(fd)
        head = np.ndarray((_WORDS_PER_PAGE,), dtype="<i8", buffer=mm, offset=0)
        magic, version = int(head[H_MAGIC]), int(head[H_VERSION])
        _fence()
        slots, slot_bytes = int(head[H_SLOTS]), int(head[H_SLOT_BYTES])
        width, height, fmt = int(head[H_WIDTH]), int(head[H_HEIGHT]), int(head[H_PIXEL_FORMAT])
        del head
        problem = None
        if magic != MAGIC:
            problem = "not ready, or not a frame ring (no magic)"
        elif version != LAYOUT_VERSION:
            problem = f"layout version {version}, this reader knows {LAYOUT_VERSION}"
        elif fmt not in PIXEL_FORMATS:
            problem = f"unknown pixel format code {fmt}"
        elif slots < 2 or width <= 0 or height <= 0 or slot_bytes != _slot_bytes(width, height) \
                or size != _segment_bytes(slots, slot_bytes):
            problem = f"inconsistent header ({slots} slots of {slot_bytes} B, {width}x{height}, {size} B file)"
        if problem:
            mm.close()
            raise RingError(f"ring {name}: {path}: {problem}")
        return cls(name, _Mapping(mm, slots, slot_bytes, width, height), slots, width, height, max_retries)

    # the header, as the writer last stored it

    @property
    def writer_pid(self) -> int:
        return int(self._map.header[H_WRITER_PID])

    def writer_alive(self) -> bool:
        """Whether the writer process is still running (not exited, not a zombie, its pid not reused)."""
        h = self._map.header
        return _owner_alive(int(h[H_WRITER_PID]), int(h[H_WRITER_START_TICKS]))

    @property
    def writer_closed(self) -> bool:
        """Whether the writer closed the ring cleanly (nothing more will be published)."""
        return int(self._map.header[H_STATE]) == STATE_CLOSED

    @property
    def write_seq(self) -> int:
        """The writer's sequence counter: the last complete publish (0 before the first)."""
        return int(self._map.header[H_WRITE_SEQ])

    @property
    def heartbeat_ns(self) -> int:
        """time.monotonic_ns() of the writer's last publish or idle turn."""
        return int(self._map.header[H_HEARTBEAT_NS])

    def heartbeat_age_s(self, now_ns: int | None = None) -> float:
        """Seconds since the writer's last publish or idle turn (now: time.monotonic_ns() unless given)."""
        now = time.monotonic_ns() if now_ns is None else now_ns
        return (now - self.heartbeat_ns) / 1e9

    @property
    def last_seq(self) -> int:
        """The sequence number of the last pair returned or skipped (0 at attach)."""
        return self._last

    # taking pairs out

    def newest(self, into: tuple[np.ndarray, np.ndarray] | None = None) -> RingFrame | None:
        """Live: the newest complete pair not yet returned, or None (nothing new, or every try torn).

        into: optional (left, right) arrays of the ring's (H, W, 3) uint8 shape, C-contiguous, that
        the images are copied into (a reused pool, pinned host memory for the GPU upload); the
        returned frame's left and right are then those arrays. Their content is undefined when
        None is returned (a torn copy may have been made into them). Without it, each frame gets
        a new (2, H, W, 3) block of its own.
        """
        self._check_into(into)
        for _ in range(self.max_retries + 1):
            seq = self.write_seq
            if seq <= self._last:
                return None
            got = self._read(seq, into)
            if isinstance(got, RingFrame):
                return self._accept(got)
            if got is _NOT_YET:  # only a reordered view of the header could show this; try again later
                return None
            self.torn_retries += 1  # the writer went round the ring under us: take the new newest
        return None

    def next_in_order(self, into: tuple[np.ndarray, np.ndarray] | None = None) -> RingFrame | None:
        """Offline: the pair after the last one returned, or None (not published yet, or every try torn).

        If the writer has lapped the reader, the overrun is counted, the pairs lost are counted as
        dropped, and reading resumes at the oldest pair still in the ring. into: as for :meth:`newest`.
        """
        self._check_into(into)
        for _ in range(self.max_retries + 1):
            want = self._last + 1
            newest = self.write_seq
            if newest < want:
                return None
            if newest - want < self.slots:
                got = self._read(want, into)
                if isinstance(got, RingFrame):
                    return self._accept(got)
                if got is _NOT_YET:
                    return None
                if got is _TORN:
                    self.torn_retries += 1
            # lapped: slot `want` holds a later pair. Resume at the oldest pair still there.
            self.overruns += 1
            oldest = max(want + 1, self.write_seq - self.slots + 1)
            self.dropped += oldest - want
            self._last = oldest - 1
        return None

    def _check_into(self, into) -> None:
        if into is None:
            return
        shape = (self.height, self.width, 3)
        if len(into) != 2 or any(not isinstance(a, np.ndarray) or a.shape != shape or a.dtype != np.uint8
                                 or not a.flags.c_contiguous or not a.flags.writeable for a in into):
            raise ValueError(f"ring {self.name}: into must be two writable C-contiguous {shape} uint8 arrays")

    def _copy_views(self, left: np.ndarray, right: np.ndarray, into) -> tuple[np.ndarray, np.ndarray]:
        """Copy one slot's two images out of shared memory (a test subclass slows this down to provoke tearing).

        Into one new (2, H, W, 3) block unless ``into`` is given: one allocation per pair, not two,
        which glibc's malloc serves from its heap once warm instead of fresh, page-faulting mmaps.
        """
        if into is None:
            pair = np.empty((2, *left.shape), dtype=np.uint8)
            into = (pair[0], pair[1])
        np.copyto(into[0], left)
        np.copyto(into[1], right)
        return into[0], into[1]

    def _read(self, seq: int, into=None) -> RingFrame | str:
        """Pair ``seq`` copied out of its slot, validated by the seqlock; else _LAPPED, _TORN or _NOT_YET."""
        k = (seq - 1) % self.slots
        m = self._map
        slot = m.slot_headers[k]
        end = int(slot[S_SEQ_END])
        _fence()
        if end != seq:
            return _LAPPED if end > seq else _NOT_YET
        if int(slot[S_SEQ_BEGIN]) != seq:  # a later publish is already writing this slot
            return _LAPPED
        index, t_ns, published = int(slot[S_INDEX]), int(slot[S_T_NS]), int(slot[S_PUBLISHED_MONO_NS])
        geometry = (int(slot[S_WIDTH]), int(slot[S_HEIGHT]), int(slot[S_STRIDE]), int(slot[S_PIXEL_FORMAT]))
        left, right = self._copy_views(m.left[k], m.right[k], into)
        _fence()
        if int(slot[S_SEQ_BEGIN]) != seq:
            return _TORN
        if geometry != (self.width, self.height, self.width * 3, PIXEL_FORMAT_BGR8):
            raise RingError(f"ring {self.name}: slot {k} (seq {seq}) holds {geometry[0]}x{geometry[1]} "
                            f"stride {geometry[2]} format {geometry[3]}, the ring header says "
                            f"{self.width}x{self.height} BGR8")
        return RingFrame(seq=seq, index=index, t_ns=t_ns, left=left, right=right, published_mono_ns=published)

    def _accept(self, frame: RingFrame) -> RingFrame:
        self.dropped += frame.seq - self._last - 1
        self._last = frame.seq
        self.returned += 1
        self._map.header[H_READ_SEQ] = frame.seq  # after the copy was validated: the writer may reuse the slot
        return frame

    def close(self) -> None:
        """Unmap the ring (the pairs already returned stay valid: they are copies). Idempotent."""
        if self._map is not None:
            self._map.close()
            self._map = None

    def __enter__(self) -> RingReader:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


# --- bench -----------------------------------------------------------------------------------

#: HD720 (the ZED 2's 1280x720), the size `bench_ring` moves.
BENCH_WIDTH, BENCH_HEIGHT = 1280, 720
_BENCH_PAUSE_S = 0.002  # between samples: the reader is waiting again, nothing queued
_BENCH_DEADLINE_S = 120.0


def _bench_images() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    shape = (BENCH_HEIGHT, BENCH_WIDTH, 3)
    return rng.integers(0, 256, shape, dtype=np.uint8), rng.integers(0, 256, shape, dtype=np.uint8)


def _bench_ring_writer(name: str, n: int, ready) -> None:
    """Bench child: create the ring, then n times: wait until the reader took the last pair, publish.

    t_ns carries time.monotonic_ns() just before publish, so the reader measures the crossing.
    """
    left, right = _bench_images()
    parent = os.getppid()
    deadline = time.monotonic() + _BENCH_DEADLINE_S
    with FrameRing.create(name, slots=4, width=BENCH_WIDTH, height=BENCH_HEIGHT) as ring:
        ready.send(True)
        for i in range(n):
            while ring.read_seq < ring.seq:
                if time.monotonic() > deadline or os.getppid() != parent:
                    return
                time.sleep(0.0002)
            time.sleep(_BENCH_PAUSE_S)
            ring.publish(i, time.monotonic_ns(), left, right)
        ready.recv()  # the reader is done: unlink only then


def _bench_queue_writer(frames, acks, n: int) -> None:
    """Bench child: n times: wait for the reader's ack, put (i, monotonic_ns, left, right) on the queue."""
    left, right = _bench_images()
    for i in range(n):
        acks.get(timeout=_BENCH_DEADLINE_S)
        time.sleep(_BENCH_PAUSE_S)
        frames.put((i, time.monotonic_ns(), left, right))


def _median(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[len(ordered) // 2]


def _stop(proc) -> None:
    proc.join(timeout=10)
    if proc.is_alive():
        proc.kill()
        proc.join()


def _ring_crossings_us(ctx, n: int, reuse_buffers: bool) -> list[tuple[float, float]]:
    """(crossing, of which publish) in us for n pairs through a ring from a spawn-started writer."""
    name = f"{NAME_PREFIX}bench-{os.getpid()}-{time.monotonic_ns() % 10**9}"
    ours, theirs = ctx.Pipe()
    proc = ctx.Process(target=_bench_ring_writer, args=(name, n, theirs), daemon=True)
    proc.start()
    samples: list[tuple[float, float]] = []
    try:
        if not ours.poll(_BENCH_DEADLINE_S):
            raise RingError("bench ring: the writer process did not start")
        ours.recv()
        with RingReader.attach(name) as reader:
            shape = (BENCH_HEIGHT, BENCH_WIDTH, 3)
            into = (np.empty(shape, np.uint8), np.empty(shape, np.uint8)) if reuse_buffers else None
            deadline = time.monotonic() + _BENCH_DEADLINE_S
            while len(samples) < n:
                frame = reader.next_in_order(into)  # a busy poll: the crossing, not a poll period, is timed
                if frame is None:
                    if time.monotonic() > deadline or not proc.is_alive():
                        raise RingError("bench ring: the writer stopped publishing")
                    continue
                now = time.monotonic_ns()
                samples.append(((now - frame.t_ns) / 1000.0, (frame.published_mono_ns - frame.t_ns) / 1000.0))
                assert frame.index == len(samples) - 1
        ours.send(True)
    finally:
        _stop(proc)
        try:
            os.unlink(segment_path(name))  # only if the writer could not
        except FileNotFoundError:
            pass
    return samples


def _queue_crossings_us(ctx, n: int) -> list[float]:
    frames, acks = ctx.Queue(), ctx.Queue()
    proc = ctx.Process(target=_bench_queue_writer, args=(frames, acks, n), daemon=True)
    proc.start()
    samples: list[float] = []
    try:
        for i in range(n):
            acks.put(None)
            index, t0, left, right = frames.get(timeout=_BENCH_DEADLINE_S)
            samples.append((time.monotonic_ns() - t0) / 1000.0)
            assert index == i and left.shape == right.shape == (BENCH_HEIGHT, BENCH_WIDTH, 3)
    finally:
        _stop(proc)
        frames.close()
        acks.close()
    return samples


def bench_ring(repeat: int = 50, warmup: int = 5) -> list[dict]:
    """Per-pair crossing cost of HD720 BGR (2 x 1280x720x3 B) from a writer process to this one.

    Through the ring (publish into a slot, copy out) and through a ``multiprocessing.Queue`` of the
    same two arrays (pickle, pipe, unpickle), in the same run; spawn-started writers, one pair in
    flight at a time. A sample is time.monotonic_ns() from just before the writer hands the pair
    over to when the reader holds its own copy: new arrays per pair (as the Queue gives), and
    copied into two reused arrays (``into``: a buffer pool, pinned memory). The in-process copy
    of both images is the floor (the ring pays it twice). Rows: name, median_us, max_us, n,
    speedup_vs_queue, and for the ring publish_median_us (the writer's part of the crossing).
    """
    import multiprocessing

    ctx = multiprocessing.get_context("spawn")
    n = warmup + repeat
    ring = _ring_crossings_us(ctx, n, reuse_buffers=False)[warmup:]
    ring_into = _ring_crossings_us(ctx, n, reuse_buffers=True)[warmup:]
    ring_us, ring_into_us = [total for total, _ in ring], [total for total, _ in ring_into]
    queue_us = _queue_crossings_us(ctx, n)[warmup:]
    left, right = _bench_images()
    copy_us = []
    for _ in range(n):
        t0 = time.perf_counter_ns()
        left.copy(), right.copy()
        copy_us.append((time.perf_counter_ns() - t0) / 1000.0)
    ring_med, ring_into_med, queue_med = _median(ring_us), _median(ring_into_us), _median(queue_us)
    pair = f"2 x {BENCH_WIDTH}x{BENCH_HEIGHT}x3 B"
    return [
        {"name": "ring_hd720_pair", "median_us": round(ring_med, 1), "max_us": round(max(ring_us), 1),
         "n": len(ring_us), "speedup_vs_queue": round(queue_med / ring_med, 1),
         "publish_median_us": round(_median([p for _, p in ring]), 1),
         "note": f"{pair}, writer process -> reader process, 4 slots, new arrays per pair"},
        {"name": "ring_hd720_pair_into_buffers", "median_us": round(ring_into_med, 1),
         "max_us": round(max(ring_into_us), 1), "n": len(ring_into_us),
         "speedup_vs_queue": round(queue_med / ring_into_med, 1),
         "publish_median_us": round(_median([p for _, p in ring_into]), 1),
         "note": f"{pair}, as above, copied into two reused arrays (into=)"},
        {"name": "queue_hd720_pair", "median_us": round(queue_med, 1), "max_us": round(max(queue_us), 1),
         "n": len(queue_us), "speedup_vs_queue": 1.0, "note": f"{pair}, multiprocessing.Queue (spawn)"},
        {"name": "copy_hd720_pair_in_process", "median_us": round(_median(copy_us[warmup:]), 1),
         "n": repeat, "note": "one numpy copy of both images: the floor (the ring copies twice)"},
    ]
