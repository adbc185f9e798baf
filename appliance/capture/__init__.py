"""Frame sources: synthetic (simulated infant), uvc (the ZED as a UVC camera), zed (the ZED through its SDK),
replay (a recorded folder).

This package's top level stays free of NumPy and OpenCV (each source is imported when opened):
``appliance.config``, imported by every command at start, takes capture.source's choices from
SOURCES here.
"""
from __future__ import annotations

from collections.abc import Iterator
from itertools import islice
from typing import TYPE_CHECKING

from ..errors import ConfigError

if TYPE_CHECKING:
    from ..frames import StereoFrame

#: (name, meaning) of each frame source open_source knows (capture.source chooses one).
SOURCES: tuple[tuple[str, str], ...] = (
    ("synthetic", "simulated infant"),
    ("uvc", "ZED as a UVC camera"),
    ("zed", "ZED through the ZED SDK"),
    ("replay", "a recorded folder"),
)
SOURCE_NAMES: tuple[str, ...] = tuple(name for name, _ in SOURCES)


class LimitedSource:
    """Wraps a FrameSource to deliver at most n_frames (the --duration of sources without an end)."""

    def __init__(self, source, n_frames: int) -> None:
        self.source, self.n_frames = source, n_frames
        self.calibration, self.fps_nominal = source.calibration, source.fps_nominal
        self.has_truth, self.name = source.has_truth, source.name

    def frames(self) -> Iterator[StereoFrame]:
        # islice stops after the n-th frame without asking the source for one more (a grab, a paced wait)
        yield from islice(self.source.frames(), self.n_frames)

    def close(self) -> None:
        self.source.close()


class ReplayTee:
    """Wraps a FrameSource and writes every delivered frame to a replay folder (--write-replay).

    The folder appears under its final name only when the source has ended (appliance.capture.replay).
    Writing is explicit: no image reaches the disk otherwise (DESIGN.md, "Privacy").
    """

    def __init__(self, source, directory: str) -> None:
        from .replay import ReplayWriter

        self.source = source
        self.calibration, self.fps_nominal = source.calibration, source.fps_nominal
        self.has_truth, self.name = source.has_truth, source.name
        self.writer = ReplayWriter(directory, source.fps_nominal, source.calibration)
        self.info = None

    def frames(self) -> Iterator[StereoFrame]:
        try:
            for frame in self.source.frames():
                self.writer.write(frame)
                yield frame
        except BaseException:
            self.writer.abort()
            raise
        self.info = self.writer.finish()

    def close(self) -> None:
        self.source.close()


def _device(text: str):
    return int(text) if text.isdigit() else text


def open_source(cfg, duration_s: float | None, as_fast_as_possible: bool, write_replay: str | None = None):
    """The FrameSource named by capture.source, delivering round(fps * duration_s) frames when given."""
    name = cfg["capture.source"]
    fps = cfg["capture.fps"]
    n_frames = None if duration_s is None else int(round(fps * duration_s))
    if name == "synthetic":
        from .synthetic import SyntheticSource

        source = SyntheticSource(seed=cfg["sim.seed"], fps=fps, n_frames=n_frames, paced=not as_fast_as_possible,
                                 render=cfg["sim.render"] or bool(write_replay))
    elif name == "uvc":
        from .uvc import UvcSource

        source = UvcSource(_device(cfg["capture.device"]), cfg["capture.calibration"] or None,
                           resolution=cfg["capture.resolution"], fps=fps)
    elif name == "zed":
        from .zed import ZedSource

        source = ZedSource(cfg["capture.resolution"], fps, serial=cfg["capture.serial"],
                           self_calibration=cfg["capture.self_calibration"],
                           zed_settings_dir=cfg["capture.zed_settings_dir"],
                           usb_reset_after_s=cfg["capture.usb_reset_after_s"], where=cfg.origins["capture.source"])
    elif name == "replay":
        from .replay import ReplaySource

        if not cfg["capture.replay_dir"]:
            raise ConfigError(cfg.origins["capture.replay_dir"], "capture.replay_dir", "the replay source needs a folder (--replay DIR)")
        source = ReplaySource(cfg["capture.replay_dir"], paced=not as_fast_as_possible)
    else:  # the config's choices make this unreachable
        raise ConfigError(cfg.origins["capture.source"], "capture.source", f"unknown source {name!r}")
    if n_frames is not None and name != "synthetic":
        source = LimitedSource(source, n_frames)
    if write_replay:
        source = ReplayTee(source, write_replay)
    return source
