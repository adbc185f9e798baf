"""The validity rules' facts: the reason names and the rules' defaults, in one dependency-free place.

Why a joint is NaN, and how each reason is checked: ``appliance.stereo.validity``. This module
imports nothing heavy, so ``appliance.config`` (imported by every command at start) can take the
defaults of its ``stereo.*`` keys from here, and ``appliance.store.schema`` its reason list.
"""
from __future__ import annotations

from dataclasses import dataclass

#: Every invalid reason, in the order the rules check them (the first that applies is stored).
REASONS: tuple[str, ...] = ("not_detected", "low_score", "disparity_not_positive", "depth_out_of_range",
                            "epipolar_error")


@dataclass(frozen=True)
class ValidityRules:
    """Thresholds of the validity rules; the defaults are the config's ``stereo.*`` defaults."""

    min_score: float = 0.2
    min_depth_mm: float = 300.0
    max_depth_mm: float = 1500.0
    max_epipolar_px: float = 12.0

    @classmethod
    def from_config(cls, cfg) -> ValidityRules:
        return cls(cfg["stereo.min_score"], cfg["stereo.min_depth_mm"], cfg["stereo.max_depth_mm"],
                   cfg["stereo.max_epipolar_px"])
