"""Session frame numbering: a frame's index is its slot at the nominal rate since the session's first frame.

``index = round((t_ns - t_first_ns) * fps / 1e9)``, a collision (two frames in one slot: camera
jitter) taking the next free slot. A dropped frame or a camera gap is therefore a hole of its
length in ``frames.frame_index``, and exports keep real time (DESIGN.md, "Time"). ``t_ns`` stays
the camera's clock; indices never repeat within a session, also across a camera restart.
"""
from __future__ import annotations


class SlotClock:
    """Numbers one session's frames. Not thread-safe: one caller (the capture loop) owns it."""

    def __init__(self, fps: float) -> None:
        if not fps > 0:
            raise ValueError(f"fps must be positive, got {fps}")
        self.fps = float(fps)
        self.t_first_ns: int | None = None
        self.last_index: int | None = None

    def index(self, t_ns: int) -> int:
        """The slot of a frame captured at t_ns (ns since the epoch); the first frame is slot 0."""
        if self.t_first_ns is None:
            self.t_first_ns = t_ns
        slot = round((t_ns - self.t_first_ns) * self.fps / 1e9)
        if self.last_index is not None and slot <= self.last_index:
            slot = self.last_index + 1  # jitter, or a clock that went back: never reuse a slot
        self.last_index = slot
        return slot

    def slot_time_ns(self, index: int) -> int:
        """The inverse: the nominal capture time of slot ``index`` (needs the first frame)."""
        if self.t_first_ns is None:
            raise ValueError("no frame numbered yet")
        return self.t_first_ns + round(index * 1e9 / self.fps)
