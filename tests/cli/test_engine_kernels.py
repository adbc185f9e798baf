"""`agma engine kernels` compiles the CUDA decoder for a GPU once and finds it in its cache after.

Why: the install step on a box compiles the kernels for the box's own GPU (scripts/install.sh), and
the pipeline then loads the cached cubin at the first session; a second call must not compile
again, and the cubin must be a real sm_87 image (the ELF magic, checked by is_cubin). Without a GPU
and without --sm the command cannot know what to build: one line saying to give --sm, exit 1. The
toolchain is CUDA 12.2's NVRTC (a test dependency from PyPI, as in tests/pose/test_cuda_compile.py).
"""
from __future__ import annotations

import json
from pathlib import Path

from appliance.pose.cuda import build as cuda_build

from tests.helpers import agma


def test_build_then_cached(tmp_path):
    first = agma("engine", "kernels", "--sm", "87", "--toolchain", "nvrtc", "--cache-dir", str(tmp_path), "--json")
    assert first.returncode == 0, first.stderr
    doc = json.loads(first.stdout)
    cubin = Path(doc["cubin"])
    assert cubin.parent == tmp_path and doc["sm"] == 87 and doc["toolchain"] == "nvrtc" and doc["cached"] is False
    assert cuda_build.is_cubin(cubin.read_bytes()[:4])
    second = agma("engine", "kernels", "--sm", "87", "--toolchain", "nvrtc", "--cache-dir", str(tmp_path), "--json")
    assert second.returncode == 0 and json.loads(second.stdout) == {**doc, "cached": True}
    assert sorted(p.name for p in tmp_path.iterdir()) == [cubin.name]


def test_without_sm_it_builds_for_this_gpu_or_says_to_give_sm(tmp_path):
    from appliance.pose.cuda.decoder import device_sm, unavailable_reason

    p = agma("engine", "kernels", "--toolchain", "nvrtc", "--cache-dir", str(tmp_path), "--json")
    if unavailable_reason() is None:  # a GPU machine: built for its own compute capability
        assert p.returncode == 0 and json.loads(p.stdout)["sm"] == device_sm()
        return
    assert p.returncode == 1
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1 and "give the GPU's compute capability with --sm" in lines[0], p.stderr
    assert not list(tmp_path.iterdir())


def test_a_nonsense_sm_is_a_usage_error(tmp_path):
    p = agma("engine", "kernels", "--sm", "5", "--cache-dir", str(tmp_path))
    assert p.returncode == 2 and "--sm 5" in p.stderr and not list(tmp_path.iterdir())
