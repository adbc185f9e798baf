"""COCO-17 joints: the one place for their names, order, skeleton edges and flip pairs.

Every array with a joint axis in this project uses this order (DESIGN.md, "Joints").
"""
from __future__ import annotations

JOINT_NAMES: tuple[str, ...] = (
    "nose",
    "left_eye",
    "right_eye",
    "left_ear",
    "right_ear",
    "left_shoulder",
    "right_shoulder",
    "left_elbow",
    "right_elbow",
    "left_wrist",
    "right_wrist",
    "left_hip",
    "right_hip",
    "left_knee",
    "right_knee",
    "left_ankle",
    "right_ankle",
)
NUM_JOINTS = len(JOINT_NAMES)
JOINT_INDEX: dict[str, int] = {name: i for i, name in enumerate(JOINT_NAMES)}

#: Limb segments drawn by the synthetic scene and by any viewer (COCO's skeleton, 0-based).
SKELETON_EDGES: tuple[tuple[int, int], ...] = (
    (15, 13), (13, 11), (16, 14), (14, 12), (11, 12),
    (5, 11), (6, 12), (5, 6), (5, 7), (6, 8), (7, 9), (8, 10),
    (1, 2), (0, 1), (0, 2), (1, 3), (2, 4), (3, 5), (4, 6),
)

#: Left/right pairs swapped when an image is mirrored (flip test), 0-based.
FLIP_PAIRS: tuple[tuple[int, int], ...] = (
    (1, 2), (3, 4), (5, 6), (7, 8), (9, 10), (11, 12), (13, 14), (15, 16),
)


def flip_permutation() -> tuple[int, ...]:
    """Index permutation p such that joints_mirrored = joints[p] (an involution)."""
    perm = list(range(NUM_JOINTS))
    for a, b in FLIP_PAIRS:
        perm[a], perm[b] = b, a
    return tuple(perm)


#: Joint groups of the paper's Table 5 (3D accuracy per group).
JOINT_GROUPS: dict[str, tuple[int, ...]] = {
    "nose": (0,),
    "shoulders": (5, 6),
    "elbows": (7, 8),
    "wrists": (9, 10),
    "hips": (11, 12),
    "knees": (13, 14),
    "ankles": (15, 16),
}
