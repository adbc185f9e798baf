"""The heatmap decoders' names and meanings: the one list that pose.decoder, the NumPy decoder
(``appliance.pose.decode``) and the CUDA decoder (``appliance.pose.cuda.build``) share.

Dependency-free, so that ``appliance.config`` (imported by every command at start) can take the
key's choices from here without importing NumPy or OpenCV.
"""
from __future__ import annotations

#: (name, meaning) of each decoder (pose.decoder chooses one).
DECODERS: tuple[tuple[str, str], ...] = (
    ("dark", "DarkPose's Taylor refinement"),
    ("standard", "HRNet's quarter-pixel shift"),
)
DECODER_NAMES: tuple[str, ...] = tuple(name for name, _ in DECODERS)
