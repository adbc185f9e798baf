"""One view's crop: region of interest -> 288x384 network input, and heatmap <-> image mappings.

The reference code bases place the crop with the same rules (a box becomes a centre and a
scale in units of 200 px, its aspect fixed to the input's 3:4, padded by 1.25) but map pixels
with different conventions:

- ``"dark"`` (ilovepose/DarkPose, ``lib/utils/transforms.py``): the "size - 1" convention.
  The centre of the crop maps to ((w - 1) / 2, (h - 1) / 2) of the output and the scale
  factor is (200 * scale_x - 1) / (w - 1): the centres of the first and last pixels of the
  region land on the centres of the first and last output pixels. A mirrored input gives an
  exactly mirrored heatmap, so flip testing needs no heatmap shift.
- ``"hrnet"`` (leoxiaobin/deep-high-resolution-net.pytorch): the "size * 0.5" convention.
  The centre maps to (w / 2, h / 2) and the scale factor is 200 * scale_x / w. Flip testing
  shifts the mirrored heatmap one column to the right (its ``TEST.SHIFT_HEATMAP``).

The convention belongs to the model (the one it was trained with); it travels in the
:class:`Crop` and every mapping takes it from there. Both references derive the scale factor
from the crop's *width* alone (``scale[0]``) and use it on both axes; so does this module.

All matrices are (2, 3) float64 affine maps ``[u, v]^T = A @ [x, y, 1]^T`` in the OpenCV
pixel convention (DESIGN.md, "Image coordinates").
"""
from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

from appliance.joints import FLIP_PAIRS
from appliance.pose.engine import HEATMAP_HEIGHT, HEATMAP_WIDTH, INPUT_HEIGHT, INPUT_WIDTH

CONVENTIONS = ("dark", "hrnet")
#: The reference's unit of scale: one scale unit is 200 image pixels.
PIXEL_STD_PX = 200.0
#: The reference's padding of a box around the person.
BOX_PADDING = 1.25


def _check_convention(convention: str) -> str:
    if convention not in CONVENTIONS:
        raise ValueError(f"unknown pixel convention {convention!r}; expected one of {CONVENTIONS}")
    return convention


def _to_pair(value, name: str) -> tuple[float, float]:
    arr = np.asarray(value, dtype=np.float64).reshape(-1)
    if arr.shape != (2,):
        raise ValueError(f"{name} must have 2 elements, got shape {np.shape(value)}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must be finite, got {arr.tolist()}")
    return (float(arr[0]), float(arr[1]))


def _to_size(value, name: str) -> tuple[int, int]:
    w, h = (int(v) for v in value)
    if w < 2 or h < 2:
        raise ValueError(f"{name} must be at least 2x2 pixels, got {(w, h)}")
    return (w, h)


def _invert_affine(a: np.ndarray) -> np.ndarray:
    """Inverse of a (2, 3) affine map, as a (2, 3) float64 matrix."""
    full = np.vstack([a, [0.0, 0.0, 1.0]])
    return np.linalg.inv(full)[:2].copy()


def _apply_affine(a: np.ndarray, pts: np.ndarray) -> np.ndarray:
    """Apply a (2, 3) affine map to points (..., 2) -> float64 (..., 2); NaN stays NaN."""
    p = np.asarray(pts, dtype=np.float64)
    if p.shape[-1:] != (2,):
        raise ValueError(f"points must have shape (..., 2), got {p.shape}")
    return p @ a[:, :2].T + a[:, 2]


@dataclass(frozen=True)
class Crop:
    """Where one view's network input comes from.

    center_px:   (x, y) centre of the region in image pixels.
    scale:       (sx, sy) size of the region in units of 200 image px (the reference's
                 ``scale``; only ``sx`` sets the pixel scale, as in the references).
    input_wh:    network input (width, height) in pixels, (288, 384).
    heatmap_wh:  network output (width, height) in heatmap pixels, (72, 96).
    convention:  "dark" ("size - 1", the default) or "hrnet" ("size * 0.5").
    """

    center_px: tuple[float, float]
    scale: tuple[float, float]
    input_wh: tuple[int, int] = (INPUT_WIDTH, INPUT_HEIGHT)
    heatmap_wh: tuple[int, int] = (HEATMAP_WIDTH, HEATMAP_HEIGHT)
    convention: str = "dark"
    # Cached (2, 3) matrices, derived in __post_init__; not part of equality.
    _img_to_in: np.ndarray = field(init=False, repr=False, compare=False)
    _img_to_hm: np.ndarray = field(init=False, repr=False, compare=False)
    _hm_to_img: np.ndarray = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        set_(self, "center_px", _to_pair(self.center_px, "center_px"))
        set_(self, "scale", _to_pair(self.scale, "scale"))
        set_(self, "input_wh", _to_size(self.input_wh, "input_wh"))
        set_(self, "heatmap_wh", _to_size(self.heatmap_wh, "heatmap_wh"))
        _check_convention(self.convention)
        if self.scale[0] <= 0 or self.scale[1] <= 0:
            raise ValueError(f"scale must be positive, got {self.scale}")
        img_to_in = self._image_to_output(self.input_wh)
        img_to_hm = self._image_to_output(self.heatmap_wh)
        hm_to_img = _invert_affine(img_to_hm)
        for m in (img_to_in, img_to_hm, hm_to_img):
            m.setflags(write=False)
        set_(self, "_img_to_in", img_to_in)
        set_(self, "_img_to_hm", img_to_hm)
        set_(self, "_hm_to_img", hm_to_img)

    def _image_to_output(self, out_wh: tuple[int, int]) -> np.ndarray:
        """(2, 3) float64: image px -> output px of an output of size out_wh (w, h)."""
        src_w_px = self.scale[0] * PIXEL_STD_PX
        out_w, out_h = out_wh
        if self.convention == "dark":
            if src_w_px <= 1.0:
                raise ValueError(f"a 'dark' crop must be wider than 1 px, got {src_w_px} px")
            k = (out_w - 1.0) / (src_w_px - 1.0)
            out_c = ((out_w - 1.0) * 0.5, (out_h - 1.0) * 0.5)
        else:
            k = out_w / src_w_px
            out_c = (out_w * 0.5, out_h * 0.5)
        cx, cy = self.center_px
        return np.array(
            [[k, 0.0, out_c[0] - k * cx], [0.0, k, out_c[1] - k * cy]], dtype=np.float64
        )

    # -- matrices -------------------------------------------------------------------------
    @property
    def image_to_input(self) -> np.ndarray:
        """(2, 3) float64: image px -> network-input px, the matrix for cv2.warpAffine."""
        return self._img_to_in

    @property
    def input_to_image(self) -> np.ndarray:
        """(2, 3) float64: network-input px -> image px."""
        return _invert_affine(self._img_to_in)

    @property
    def sampling_matrix(self) -> np.ndarray:
        """(2, 3) float64: network-input px -> image px exactly as cv2.warpAffine inverts
        image_to_input to sample (cv2.invertAffineTransform); the GPU preprocessing kernel's matrix."""
        return cv2.invertAffineTransform(self._img_to_in)

    @property
    def hm_to_img(self) -> np.ndarray:
        """(2, 3) float64: heatmap px -> image px (the references' ``transform_preds`` matrix)."""
        return self._hm_to_img

    @property
    def img_to_hm(self) -> np.ndarray:
        """(2, 3) float64: image px -> heatmap px."""
        return self._img_to_hm

    # -- mappings -------------------------------------------------------------------------
    def warp(self, image_bgr: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        """Image (H_img, W_img, 3) -> network input (384, 288, 3), same dtype.

        Bilinear, pixels outside the image are 0, as the references crop. out: a (384, 288, 3)
        array of the image's dtype to write into (the pose stage reuses one per view), else a new one.
        """
        img = np.asarray(image_bgr)
        return cv2.warpAffine(
            img,
            self._img_to_in,
            self.input_wh,
            dst=out,
            flags=cv2.INTER_LINEAR,
            borderMode=cv2.BORDER_CONSTANT,
            borderValue=0,
        )

    def heatmap_to_image(self, coords_hm: np.ndarray) -> np.ndarray:
        """Heatmap px (..., 2) as (x, y) -> image px (..., 2) float64 as (u, v); NaN stays NaN."""
        return _apply_affine(self._hm_to_img, coords_hm)

    def image_to_heatmap(self, uv_px: np.ndarray) -> np.ndarray:
        """Image px (..., 2) as (u, v) -> heatmap px (..., 2) float64 as (x, y); NaN stays NaN."""
        return _apply_affine(self._img_to_hm, uv_px)

    def image_to_input_px(self, uv_px: np.ndarray) -> np.ndarray:
        """Image px (..., 2) -> network-input px (..., 2) float64."""
        return _apply_affine(self._img_to_in, uv_px)


def crop_from_box(
    x: float,
    y: float,
    w: float,
    h: float,
    convention: str = "dark",
    input_wh: tuple[int, int] = (INPUT_WIDTH, INPUT_HEIGHT),
    heatmap_wh: tuple[int, int] = (HEATMAP_WIDTH, HEATMAP_HEIGHT),
    padding: float = BOX_PADDING,
) -> Crop:
    """A box (x, y, w, h) in image px -> the reference's :class:`Crop` around it.

    The references' rules (``_xywh2cs``): centre ``(x + (w - 1) / 2, y + (h - 1) / 2)``; the
    box grown along one axis to the input's aspect ratio (w / h = 288 / 384); scale =
    size / 200 px, times 1.25 padding.
    """
    _check_convention(convention)
    if not (w > 0 and h > 0):
        raise ValueError(f"box must have positive width and height, got {(w, h)}")
    aspect = input_wh[0] / input_wh[1]
    cx = x + (w - 1.0) * 0.5
    cy = y + (h - 1.0) * 0.5
    if w > aspect * h:
        h = w / aspect
    elif w < aspect * h:
        w = h * aspect
    scale = (w / PIXEL_STD_PX * padding, h / PIXEL_STD_PX * padding)
    return Crop(
        center_px=(cx, cy),
        scale=scale,
        input_wh=input_wh,
        heatmap_wh=heatmap_wh,
        convention=convention,
    )


def flip_back(heatmaps: np.ndarray, convention: str = "dark") -> np.ndarray:
    """Heatmaps of a mirrored input (N, J, H, W) -> heatmaps in the unmirrored frame, a new array.

    Mirrors the width axis and swaps the left/right joints of ``appliance.joints.FLIP_PAIRS``
    (both references). ``"dark"``: nothing else (DarkPose's flip test has no shift: in the
    "size - 1" convention the mirror of heatmap column x is exactly column W - 1 - x).
    ``"hrnet"``: then shifts the maps one column to the right, keeping column 0, as HRNet's
    ``TEST.SHIFT_HEATMAP`` does (its "size * 0.5" mirror is off by 0.75 heatmap px).
    The caller's array is not modified.
    """
    _check_convention(convention)
    hm = np.asarray(heatmaps)
    if hm.ndim != 4:
        raise ValueError(f"heatmaps must be (N, J, H, W), got shape {hm.shape}")
    n_joints = hm.shape[1]
    perm = list(range(n_joints))
    for a, b in FLIP_PAIRS:
        if a < n_joints and b < n_joints:
            perm[a], perm[b] = b, a
    out = np.ascontiguousarray(hm[:, perm, :, ::-1])
    if convention == "hrnet":
        out[..., 1:] = out[..., :-1].copy()
    return out
