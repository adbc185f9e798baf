"""Frame sources: synthetic (simulated infant), and later uvc, replay and the ZED SDK."""
from __future__ import annotations

from ..errors import ConfigError


def open_source(cfg, duration_s: float | None, as_fast_as_possible: bool):
    """The FrameSource named by capture.source, delivering round(fps * duration_s) frames when given."""
    name = cfg["capture.source"]
    fps = cfg["capture.fps"]
    n_frames = None if duration_s is None else int(round(fps * duration_s))
    if name == "synthetic":
        from .synthetic import SyntheticSource

        return SyntheticSource(seed=cfg["sim.seed"], fps=fps, n_frames=n_frames, paced=not as_fast_as_possible,
                               render=cfg["sim.render"])
    raise ConfigError(cfg.origins["capture.source"], "capture.source", f"the {name} source is not available in this build")
