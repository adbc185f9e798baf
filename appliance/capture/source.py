"""The frame-source protocol: every camera, replay or simulation delivers StereoFrames.

A source is opened once, iterated for frames, and closed. ``paced`` says whether it delivers at
its own rate like a camera (a slow consumer makes frames drop) or as fast as it is asked
(offline work: every stage waits, nothing is dropped).
"""
from __future__ import annotations

from collections.abc import Iterator
from typing import Protocol, runtime_checkable

from ..frames import RectifiedCalibration, StereoFrame


@runtime_checkable
class FrameSource(Protocol):
    #: The rectified calibration every frame of this source carries.
    calibration: RectifiedCalibration
    #: Nominal frame rate, frames per second.
    fps_nominal: float
    #: True when the source carries ground truth on every frame (simulation, annotated replay).
    has_truth: bool
    #: Short name stored in sessions.source ("synthetic", "uvc", "replay", "zed").
    name: str

    def frames(self) -> Iterator[StereoFrame]:
        """Yield frames from index 0 until the source ends or close() is called."""
        ...

    def close(self) -> None:
        """Release the device or file; frames() stops yielding."""
        ...
