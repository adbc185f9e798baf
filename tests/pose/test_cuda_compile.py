"""The CUDA decoder's sources compile for the box (Jetson Orin, sm_87) with both toolchains.

Why: JetPack 6.0's CUDA 12.2 driver cannot load PTX newer than ISA 8.2, and this machine's
nvcc 13 emits 9.0. So the box compiles the kernels itself, and CI must prove that the very
same sources compile with CUDA 12.2's NVRTC and ptxas (the PyPI wheels
nvidia-cuda-nvrtc-cu12==12.2.140 and nvidia-cuda-nvcc-cu12==12.2.140, test dependencies) to
PTX <= 8.2 and an sm_87 cubin, and with the development machine's nvcc 13. Every .cu file is
device code that compiles alone, with no host header (NVRTC 12.2 has no <cstdint> or
<math.h>) and no extra define.
"""
from __future__ import annotations

import re

import pytest

from appliance.pose.cuda import build as cuda_build

SM = 87
ENTRIES = sorted(cuda_build.ALL_ENTRY_POINTS)  # the decoder, the flip-test merge and preprocessing


def _pip_cuda_12_2():
    """The CUDA 12.2 NVRTC and ptxas from PyPI: test dependencies, so their absence fails."""
    nvrtc_dir = cuda_build._pip_package_dir("cuda_nvrtc")
    if nvrtc_dir is None or not list((nvrtc_dir / "lib").glob("libnvrtc.so*")):
        pytest.fail("CUDA 12.2 NVRTC missing: pip install " + " ".join(cuda_build.PIP_PINS))
    nvrtc = cuda_build.Nvrtc(sorted((nvrtc_dir / "lib").glob("libnvrtc.so*"))[0])
    ptxas = cuda_build._pip_package_dir("cuda_nvcc")
    if ptxas is None or not (ptxas / "bin" / "ptxas").is_file():
        pytest.fail("CUDA 12.2 ptxas missing: pip install " + " ".join(cuda_build.PIP_PINS))
    return nvrtc, ptxas / "bin" / "ptxas", ptxas / "include"


def test_sources_are_device_code_without_host_headers():
    """Only local quoted includes of the kernel folder; the shim-only macro stays out."""
    files = cuda_build.kernel_sources() + sorted(cuda_build.KERNEL_DIR.glob("*.cuh"))
    assert cuda_build.KERNEL_SOURCE in files
    for path in files:
        text = path.read_text()
        for inc in re.findall(r'^\s*#\s*include\s+(\S+)', text, re.MULTILINE):
            assert inc.startswith('"'), f"{path.name}: system include {inc}"
            assert (path.parent / inc.strip('"')).is_file(), f"{path.name}: {inc} not in the kernel folder"
        assert "AGMA_HOST_SHIM" not in text, f"{path.name} must not depend on the host shim"


def test_nvrtc_12_2_to_ptx_8_2_then_ptxas_12_2_sm87():
    """NVRTC 12.2 with --gpu-architecture=compute_87 -std=c++17 -I<folder> -I<CUDA headers>:
    PTX ISA <= 8.2 for sm_87 with every entry point; ptxas 12.2 makes an sm_87 cubin of it."""
    nvrtc, ptxas, cuda_include = _pip_cuda_12_2()
    assert nvrtc.version() == (12, 2)
    assert cuda_build.tool_version(ptxas) == "12.2"
    for source in cuda_build.kernel_sources():
        ptx, log = nvrtc.compile(source, f"compute_{SM}", include_dirs=[cuda_include])
        version = cuda_build.ptx_version(ptx)
        assert version <= cuda_build.MAX_PTX_VERSION_CUDA_12_2, f"{source.name}: PTX {version}"
        assert cuda_build.ptx_target(ptx) == f"sm_{SM}"
        entries = re.findall(rb"\.entry\s+(\w+)", ptx)
        if source == cuda_build.KERNEL_SOURCE:
            assert sorted(e.decode() for e in entries) == ENTRIES
        cubin = cuda_build.ptxas_cubin(ptx, SM, ptxas)
        assert cuda_build.is_cubin(cubin) and len(cubin) > 1000
        for name in ENTRIES:
            assert name.encode() in cubin


def test_nvrtc_12_2_straight_to_sm87_cubin_and_cache(tmp_path):
    """The box's path: NVRTC compiles straight to a cubin for its own SM, cached by CUDA
    version, SM and source hash; a second build is a cache hit."""
    nvrtc, _, _ = _pip_cuda_12_2()
    built = cuda_build.build_cubin(SM, cache_dir=tmp_path, toolchain="nvrtc", nvrtc_path=nvrtc.path)
    assert built.toolchain == "nvrtc" and built.cuda_version == "12.2" and not built.cached
    assert built.cubin_path.name.startswith(f"decode_heatmaps-cuda12.2-sm_{SM}-")
    data = built.cubin_path.read_bytes()
    assert cuda_build.is_cubin(data) and all(n.encode() in data for n in ENTRIES)
    again = cuda_build.build_cubin(SM, cache_dir=tmp_path, toolchain="nvrtc", nvrtc_path=nvrtc.path)
    assert again.cached and again.cubin_path == built.cubin_path


def test_nvcc_13_sm87_cubin():
    """nvcc -cubin -arch=sm_87 -I<folder> on every .cu file, alone. CI has nvcc (13); a
    machine without it skips with that reason."""
    nvcc = cuda_build.find_nvcc()
    if nvcc is None:
        pytest.skip("nvcc is not installed on this machine (CI has CUDA 13's nvcc)")
    for source in cuda_build.kernel_sources():
        cubin = cuda_build.nvcc_cubin(source, SM, nvcc)
        assert cuda_build.is_cubin(cubin) and len(cubin) > 1000
        if source == cuda_build.KERNEL_SOURCE:
            for name in ENTRIES:
                assert name.encode() in cubin


def test_ptx_version_parser():
    assert cuda_build.ptx_version("//\n.version 8.2\n.target sm_87\n") == (8, 2)
    assert cuda_build.ptx_version(b".version 9.0\n") == (9, 0)
    assert cuda_build.ptx_target(".version 8.2\n.target sm_87, debug\n") == "sm_87"
    with pytest.raises(cuda_build.CudaBuildError):
        cuda_build.ptx_version("no version here")
