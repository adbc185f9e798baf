"""The synthetic source: a simulated preterm infant below a simulated ZED 2, with ground truth.

The infant (about 45 cm, supine, head toward the top of the image, its left on the image's right)
lies on a mattress 74-85 cm below the camera and makes smooth writhing-like limb movements: every
limb segment's direction is a rest posture (flexed, as preterm infants lie) plus a few slow
sinusoids (0.15-0.9 Hz) of random phase, and the trunk drifts and turns slowly. Everything is a
pure function of (seed, time), so a frame is the same whatever happened to the frames before it.

The camera is a rectified ZED 2 at HD720: fx = fy = 530 px, baseline 120 mm, both views sharing
fx, fy, cx, cy. Images are simple drawings (limbs as lines on a gridded mattress) rendered with
the same projection as the ground truth (``RectifiedCalibration.project``).
"""
from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Iterator

import numpy as np

from ..frames import GroundTruth, RectifiedCalibration, StereoFrame
from ..joints import JOINT_INDEX, NUM_JOINTS, SKELETON_EDGES

SIMULATED_ZED2_HD720 = RectifiedCalibration(
    width=1280, height=720, fx=530.0, fy=530.0, cx=639.5, cy=359.5, baseline_mm=120.0,
    serial="synthetic", resolution="HD720", source="synthetic", file_sha256=None,
)

# Body frame: x lateral (+ = the infant's left), y along the body (+ = toward the feet),
# h height above the mattress; mm. Origin between the hips.
_HEAD_POINTS = {  # relative to the neck base (0, -175, 0)
    "nose": (0.0, -55.0, 95.0),
    "left_eye": (18.0, -70.0, 85.0),
    "right_eye": (-18.0, -70.0, 85.0),
    "left_ear": (48.0, -50.0, 50.0),
    "right_ear": (-48.0, -50.0, 50.0),
}
_NECK = np.array([0.0, -175.0, 0.0])
_ROOTS = {"left_shoulder": (65.0, -160.0, 40.0), "right_shoulder": (-65.0, -160.0, 40.0),
          "left_hip": (38.0, 0.0, 35.0), "right_hip": (-38.0, 0.0, 35.0)}
# Two-segment limbs: (root, middle, end, segment lengths mm, rest (azimuth, elevation) of each segment, deg)
_LIMBS = (
    ("left_shoulder", "left_elbow", "left_wrist", (75.0, 65.0), ((70.0, 15.0), (15.0, 35.0))),
    ("right_shoulder", "right_elbow", "right_wrist", (75.0, 65.0), ((70.0, 15.0), (15.0, 35.0))),
    ("left_hip", "left_knee", "left_ankle", (85.0, 80.0), ((25.0, 35.0), (5.0, -25.0))),
    ("right_hip", "right_knee", "right_ankle", (85.0, 80.0), ((25.0, 35.0), (5.0, -25.0))),
)
_MIN_HEIGHT_MM = 8.0  # nothing sinks into the mattress


class InfantMotion:
    """Deterministic writhing motion: ``joints_mm(t_s) -> (17, 3)`` in the left camera frame."""

    def __init__(self, seed: int) -> None:
        rng = np.random.default_rng([seed, 0x5EED])
        # 4 limbs x 2 segments x 2 angles, 3 sinusoids each: amplitude (rad), frequency (Hz), phase
        self.amp = np.deg2rad(rng.uniform(4.0, 14.0, size=(4, 2, 2, 3)))
        self.freq = rng.uniform(0.15, 0.9, size=(4, 2, 2, 3))
        self.phase = rng.uniform(0.0, 2 * np.pi, size=(4, 2, 2, 3))
        self.head_amp = np.deg2rad(rng.uniform(5.0, 15.0, size=2))
        self.head_freq = rng.uniform(0.05, 0.3, size=2)
        self.head_phase = rng.uniform(0.0, 2 * np.pi, size=2)
        self.bed_depth_mm = float(rng.uniform(740.0, 850.0))  # mattress; the body is 62-85 cm away
        self.origin_mm = np.array([rng.uniform(-60, 60), rng.uniform(0, 120)])
        self.yaw0 = float(np.deg2rad(rng.uniform(-15, 15)))
        self.drift = rng.uniform(0.02, 0.06, size=3), rng.uniform(0, 2 * np.pi, size=3)

    def body_points(self, t_s: float) -> np.ndarray:
        """(17, 3) body-frame positions (x, y, h) in mm at time t_s."""
        pts = np.zeros((NUM_JOINTS, 3))
        yaw = self.head_amp[0] * math.sin(2 * math.pi * self.head_freq[0] * t_s + self.head_phase[0])
        nod = self.head_amp[1] * math.sin(2 * math.pi * self.head_freq[1] * t_s + self.head_phase[1])
        c, s = math.cos(yaw), math.sin(yaw)
        for name, (x, y, h) in _HEAD_POINTS.items():
            # turn the head about the neck (yaw: x-h plane, the infant looks sideways), nod slightly
            xr, hr = c * x - s * h, s * x + c * h
            pts[JOINT_INDEX[name]] = _NECK + (xr, y + nod * h * 0.3, max(hr, _MIN_HEIGHT_MM))
        for name, p in _ROOTS.items():
            pts[JOINT_INDEX[name]] = p
        for li, (root, mid, end, lengths, rest) in enumerate(_LIMBS):
            side = 1.0 if root.startswith("left") else -1.0
            pos = pts[JOINT_INDEX[root]].copy()
            for si, child in enumerate((mid, end)):
                angles = np.deg2rad(rest[si]) + (
                    self.amp[li, si] * np.sin(2 * np.pi * self.freq[li, si] * t_s + self.phase[li, si])
                ).sum(axis=-1)
                az, el = angles
                d = np.array([side * math.sin(az) * math.cos(el), math.cos(az) * math.cos(el), math.sin(el)])
                pos = pos + lengths[si] * d
                pos[2] = max(pos[2], _MIN_HEIGHT_MM)
                pts[JOINT_INDEX[child]] = pos
        return pts

    def joints_mm(self, t_s: float) -> np.ndarray:
        """(17, 3) joint positions in mm in the left rectified camera frame at time t_s."""
        body = self.body_points(t_s)
        a, ph = self.drift
        yaw = self.yaw0 + 0.05 * math.sin(2 * math.pi * a[0] * t_s + ph[0])
        shift = 8.0 * np.array([math.sin(2 * math.pi * a[1] * t_s + ph[1]), math.sin(2 * math.pi * a[2] * t_s + ph[2])])
        c, s = math.cos(yaw), math.sin(yaw)
        x = self.origin_mm[0] + shift[0] + c * body[:, 0] - s * body[:, 1]
        y = self.origin_mm[1] + shift[1] + s * body[:, 0] + c * body[:, 1]
        z = self.bed_depth_mm - body[:, 2]
        return np.stack([x, y, z], axis=-1)


class Renderer:
    """Draws a frame pair: a gridded mattress and the infant's limbs as lines (BGR uint8)."""

    def __init__(self, calib: RectifiedCalibration, bed_depth_mm: float) -> None:
        import cv2

        self._cv2 = cv2
        self.calib = calib
        self.backgrounds = []
        for view in (0, 1):
            img = np.empty((calib.height, calib.width, 3), np.uint8)
            img[:] = (190, 205, 215)
            # a 50 mm grid on the mattress plane, projected like everything else
            for k in range(-30, 31):
                for a, b in (((k * 50.0, -1500.0), (k * 50.0, 1500.0)), ((-1500.0, k * 50.0), (1500.0, k * 50.0))):
                    ends = np.array([[a[0], a[1], bed_depth_mm], [b[0], b[1], bed_depth_mm]])
                    uv = calib.project(ends)[view]
                    cv2.line(img, _pt(uv[0]), _pt(uv[1]), (175, 190, 200), 1, cv2.LINE_AA, shift=4)
            self.backgrounds.append(img)

    def render(self, xyz_mm: np.ndarray, uv_views: tuple[np.ndarray, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        cv2 = self._cv2
        scale = self.calib.fx / float(np.nanmean(xyz_mm[:, 2]))  # px per mm at the body
        # trunk and head first, then limbs far-to-near (the same order in both views)
        edges = sorted(SKELETON_EDGES, key=lambda e: -(xyz_mm[e[0], 2] + xyz_mm[e[1], 2]))
        out = []
        for view, uv in enumerate(uv_views):
            img = self.backgrounds[view].copy()
            head = uv[JOINT_INDEX["nose"]]
            cv2.circle(img, _pt(head), int(round(45 * scale)) << 4, (150, 170, 215), -1, cv2.LINE_AA, shift=4)
            for a, b in edges:
                cv2.line(img, _pt(uv[a]), _pt(uv[b]), (120, 140, 200), max(1, int(round(14 * scale))), cv2.LINE_AA, shift=4)
            for j in range(NUM_JOINTS):
                cv2.circle(img, _pt(uv[j]), int(round(4 * scale * 16)), (60, 80, 160), -1, cv2.LINE_AA, shift=4)
            out.append(img)
        return out[0], out[1]


def _pt(uv) -> tuple[int, int]:
    """Sub-pixel point for OpenCV drawing with shift=4 (1/16 px)."""
    return int(round(float(uv[0]) * 16)), int(round(float(uv[1]) * 16))


class SyntheticSource:
    """FrameSource of the simulated infant.

    n_frames: how many frames to deliver (None: until close()). paced: deliver at fps like a
    camera (True) or as fast as asked (False). render: draw images (else 1x1 placeholders, for
    benchmarks of the rest of the path). clock, wait: the pacing's monotonic clock (seconds) and
    its wait (seconds -> True when closed meanwhile); tests inject a simulated pair.

    t_origin_ns (ns since the epoch; None: the start of ``frames()``): the camera's clock origin.
    Frame ``i`` is captured at ``t_origin_ns + i / fps`` and shows the infant at ``i / fps`` s,
    and ``frames()`` starts at the first slot not before now: a capture process restarted with
    the same origin continues the same clock and frame counter (a hole of the gap's length,
    never a repeated index), as a ZED keeps its epoch clock across a replug.
    """

    name = "synthetic"
    has_truth = True

    def __init__(self, seed: int = 0, fps: float = 30.0, n_frames: int | None = None, paced: bool = True,
                 render: bool = True, calibration: RectifiedCalibration = SIMULATED_ZED2_HD720,
                 clock: Callable[[], float] = time.monotonic, wait: Callable[[float], bool] | None = None,
                 t_origin_ns: int | None = None) -> None:
        self.seed, self.fps_nominal, self.n_frames, self.paced = seed, float(fps), n_frames, paced
        self.t_origin_ns = t_origin_ns
        self.calibration = calibration
        self.motion = InfantMotion(seed)
        self.renderer = Renderer(calibration, self.motion.bed_depth_mm) if render else None
        self._closed = threading.Event()
        self._clock, self._wait = clock, wait or self._closed.wait

    def frame_at(self, index: int, t_ns: int) -> StereoFrame:
        xyz = self.motion.joints_mm(index / self.fps_nominal)
        c = self.calibration
        left_uv, right_uv = c.project(xyz)
        if self.renderer is not None:
            left, right = self.renderer.render(xyz, (left_uv, right_uv))
        else:
            left = right = np.zeros((1, 1, 3), np.uint8)
        truth = GroundTruth(xyz_mm=xyz, left_uv_px=left_uv, right_uv_px=right_uv)
        return StereoFrame(index=index, t_ns=t_ns, left=left, right=right, calibration=c, truth=truth,
                           received_mono_ns=time.monotonic_ns())

    def frames(self) -> Iterator[StereoFrame]:
        start_wall_ns = time.time_ns()
        start_mono = self._clock()
        origin_ns, index = start_wall_ns, 0
        if self.t_origin_ns is not None:  # continue the origin's clock: the first slot not before now
            origin_ns = int(self.t_origin_ns)
            index = max(0, math.ceil((start_wall_ns - origin_ns) * self.fps_nominal / 1e9))
        delivered = 0
        while not self._closed.is_set() and (self.n_frames is None or delivered < self.n_frames):
            t_ns = origin_ns + round(index * 1e9 / self.fps_nominal)
            if self.paced:  # slot `index` on the pacing clock: start_mono is start_wall_ns
                delay = start_mono + (t_ns - start_wall_ns) / 1e9 - self._clock()
                if delay > 0 and self._wait(delay):
                    break
            yield self.frame_at(index, t_ns)
            index += 1
            delivered += 1

    def close(self) -> None:
        self._closed.set()
