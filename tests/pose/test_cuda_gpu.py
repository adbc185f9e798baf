"""The pycuda path (appliance/pose/cuda/decoder.py): on a real GPU when there is one, and its
host-side logic everywhere.

Why two parts:
- On a GPU (the box, or a development machine with one) the compiled kernels must run through
  pycuda on a stream and match the NumPy decoder to the same tolerance as the host build:
  only there do the device-only pieces run (the cvt.f32.f16 load, the GPU's math library, the
  real scheduler). These tests skip, saying why, when pycuda or a CUDA device is missing.
- Everywhere (CI has no GPU): the module's own logic -- compiling and loading the cubin,
  packing the by-value parameters, chunking views into launches, pointer arithmetic for
  float32/float16 buffers, the copy back, thread ownership, decode_to_image's dispatch --
  runs against a stand-in for pycuda.driver whose "device" is host memory and whose launches
  run the kernel source through the host shim with the launch configuration pycuda was given.
"""
from __future__ import annotations

import ctypes
import sys
import threading
import types

import numpy as np
import pytest

from appliance.pose import decode
from appliance.pose.cuda import build as cuda_build, host_decoder
from appliance.pose.crop import crop_from_box, flip_back
from appliance.pose.engine import ModelInfo
from appliance.pose.preprocess import CropPolicy, HeatmapPoseStage, Preprocessor
from tests.pose.test_cuda_host_parity import assert_matches_numpy, degenerate_maps, random_maps

J = 17


# ---------------------------------------------------------------------------------------------
# a stand-in for pycuda.driver backed by host memory and the host shim
# ---------------------------------------------------------------------------------------------
class _Alloc:
    def __init__(self, nbytes: int) -> None:
        self.buf = np.zeros(max(int(nbytes), 1), np.uint8)

    def __int__(self) -> int:
        return self.buf.ctypes.data

    def free(self) -> None:
        pass


def _fake_driver(launches: list) -> types.ModuleType:
    lib = host_decoder.load_library()
    drv = types.ModuleType("pycuda.driver")
    current = threading.local()

    class Device:
        @staticmethod
        def count():
            return 1

        def __init__(self, index=0):
            self.index = index

        def compute_capability(self):
            return (8, 7)

        def name(self):
            return "host shim (stand-in for pycuda)"

        def make_context(self):
            ctx = Context()
            current.ctx = ctx
            return ctx

    class Context:
        @staticmethod
        def get_current():
            return getattr(current, "ctx", None)

        @staticmethod
        def get_device():
            return Device(0)

        def pop(self):
            current.ctx = None

        def detach(self):
            pass

    class Function:
        def __init__(self, name):
            self.name = name
            self.arg_format = None

        def prepare(self, arg_types):
            self.arg_format = "".join(arg_types)
            return self

        def prepared_async_call(self, grid, block, stream, *args, shared_size=0):
            if self.name == cuda_build.PREPROCESS_ENTRY_POINT:  # grid (pixel blocks, outputs)
                assert self.arg_format == f"{cuda_build.PRE_PARAMS_SIZE}s" and len(args) == 1
                assert isinstance(args[0], bytes) and len(args[0]) == cuda_build.PRE_PARAMS_SIZE
                assert len(grid) == 2 and tuple(block[1:]) == (1, 1) and shared_size == 0
                launches.append((self.name, tuple(grid), block, shared_size))
                rc = lib.agma_host_launch_preprocess_params(args[0], int(grid[0]), int(grid[1]), int(block[0]))
                assert rc == 0, lib.agma_host_last_error()
                return
            merge = self.name in cuda_build.MERGE_ENTRY_POINTS.values()
            size = cuda_build.MERGE_PARAMS_SIZE if merge else cuda_build.PARAMS_SIZE
            assert self.arg_format == f"{size}s" and len(args) == 1
            blob = args[0]
            assert isinstance(blob, bytes) and len(blob) == size
            assert tuple(block[1:]) == (1, 1) and tuple(grid[1:]) == (1,)
            launches.append((self.name, grid, block, shared_size))
            if merge:
                assert shared_size == 0
                rc = lib.agma_host_launch_merge_params(self.name.encode(), blob, int(grid[0]), int(block[0]))
            else:
                rc = lib.agma_host_launch_params(self.name.encode(), blob, int(grid[0]), int(block[0]),
                                                 int(shared_size))
            assert rc == 0, lib.agma_host_last_error()

    class Module:
        def __init__(self, image):
            self.image = bytes(image)

        def get_function(self, name):
            assert name.encode() in self.image, f"{name} not in the cubin"
            return Function(name)

    class Stream:
        def synchronize(self):
            pass

    class Event:
        def record(self, stream=None):
            pass

        def synchronize(self):
            pass

        def time_since(self, other):
            return 0.0

    def memcpy_dtoh_async(dest, src, stream=None):
        ctypes.memmove(dest.ctypes.data, int(src), dest.nbytes)

    def memcpy_htod(dest, src):
        src = np.ascontiguousarray(src)
        ctypes.memmove(int(dest), src.ctypes.data, src.nbytes)

    def memcpy_htod_async(dest, src, stream=None):
        assert src.flags.c_contiguous
        ctypes.memmove(int(dest), src.ctypes.data, src.nbytes)

    def module_from_buffer(image):
        assert cuda_build.is_cubin(bytes(image))
        return Module(image)

    drv.init = lambda: None
    drv.Device, drv.Context, drv.Stream, drv.Event = Device, Context, Stream, Event
    drv.mem_alloc = _Alloc
    drv.pagelocked_empty = lambda shape, dtype: np.empty(shape, dtype)
    drv.memcpy_dtoh_async = memcpy_dtoh_async
    drv.memcpy_htod = memcpy_htod
    drv.memcpy_htod_async = memcpy_htod_async
    drv.module_from_buffer = module_from_buffer
    drv.function_attribute = types.SimpleNamespace(MAX_DYNAMIC_SHARED_SIZE_BYTES=8)
    return drv


@pytest.fixture()
def stand_in(monkeypatch, tmp_path):
    """pycuda.driver replaced by the host stand-in; kernels compiled by NVRTC 12.2 (pip)."""
    launches: list = []
    drv = _fake_driver(launches)
    pkg = types.ModuleType("pycuda")
    pkg.driver = drv
    monkeypatch.setitem(sys.modules, "pycuda", pkg)
    monkeypatch.setitem(sys.modules, "pycuda.driver", drv)
    monkeypatch.setenv("AGMA_CACHE_DIR", str(tmp_path))
    return launches


def _upload(cuda, hm: np.ndarray):
    buf = cuda.mem_alloc(hm.nbytes)
    cuda.memcpy_htod(buf, np.ascontiguousarray(hm))
    return buf


def test_pycuda_module_logic_against_the_host_stand_in(stand_in):
    """cuda_decoder.py end to end without a GPU: twelve views (two launches of at most eight,
    the second at an offset pointer in both the input and the output), float32 and float16,
    DARK and standard, per-view crops, through decode.decode_to_image's dispatch."""
    from appliance.pose.cuda import decoder as cuda_decoder

    hm = random_maps(61, n=12)
    rng = np.random.default_rng(3)
    crops = [crop_from_box(rng.uniform(0, 500), rng.uniform(0, 300), rng.uniform(200, 600), rng.uniform(200, 400))
             for _ in range(12)]
    with cuda_decoder.GpuThread() as gpu:
        assert gpu.decoder.sm == 87 and gpu.decoder.built.toolchain == "nvrtc"
        for dtype in (np.float32, np.float16):
            data = hm.astype(dtype)
            buf = gpu.call(lambda g: _upload(g.cuda, data))
            for method in ("dark", "standard"):
                stand_in.clear()
                wrapped = gpu.call(lambda g: g.decoder.wrap(int(buf), data.shape, dtype, g.stream))

                uv, scores = gpu.call(lambda g: decode.decode_to_image(wrapped, crops, method))
                assert [(n, g[0], b[0]) for n, g, b, _ in stand_in] == [
                    (cuda_build.ENTRY_POINTS[(method, np.dtype(dtype).name)], 8 * J, 256),
                    (cuda_build.ENTRY_POINTS[(method, np.dtype(dtype).name)], 4 * J, 256),
                ]
                assert all(s == cuda_build.shared_bytes(method, 96, 72, 256) for *_, s in stand_in)
                want_uv, want_scores = host_decoder.decode_to_image(data, crops, method)
                assert np.array_equal(uv, want_uv, equal_nan=True)
                assert np.array_equal(scores, want_scores, equal_nan=True)


def test_decoder_refuses_other_threads_and_missing_context(stand_in):
    """A CUDA context is current in one thread: the decoder must be made and used there."""
    from appliance.pose.cuda import decoder as cuda_decoder

    with pytest.raises(cuda_decoder.CudaUnavailable, match="no current CUDA context"):
        cuda_decoder.CudaHeatmapDecoder()
    with cuda_decoder.GpuThread() as gpu:
        hm = np.zeros((1, J, 96, 72), np.float32)
        buf = gpu.call(lambda g: _upload(g.cuda, hm))
        mats = host_decoder.identity_affines(1)
        with pytest.raises(RuntimeError, match="thread"):
            gpu.decoder.decode(int(buf), hm.shape, np.float32, gpu.stream, mats)
        out = gpu.call(lambda g: g.decoder.decode(int(buf), hm.shape, np.float32, g.stream, mats))
        assert np.isnan(out[..., :2]).all() and (out[..., 2] == 0).all()


def test_bench_row_without_a_gpu_says_why(monkeypatch):
    """No fake numbers: without pycuda the bench returns one row that says unavailable and why."""
    monkeypatch.setitem(sys.modules, "pycuda", None)  # import fails as when it is not installed
    monkeypatch.setitem(sys.modules, "pycuda.driver", None)
    from appliance.bench.decode_cuda import bench_decode_cuda

    rows = bench_decode_cuda(None)
    assert rows == [{"name": "decode_cuda", "available": False, "median_us": None, "reason": rows[0]["reason"]}]
    assert "pycuda" in rows[0]["reason"]


def test_bench_rows_with_the_stand_in_have_the_contract(stand_in):
    """With a (stand-in) device the bench reports one row per method and dtype."""
    from types import SimpleNamespace

    from appliance.bench.decode_cuda import bench_decode_cuda

    rows = bench_decode_cuda(SimpleNamespace(repeat=2, seed=0))
    assert [(r["method"], r["dtype"]) for r in rows] == [
        ("dark", "float32"), ("standard", "float32"), ("dark", "float16"), ("standard", "float16")]
    assert all(r["available"] and r["sm"] == 87 and r["heatmaps_shape"] == [2, J, 96, 72] for r in rows)


# ---------------------------------------------------------------------------------------------
# the flip-test merge and the pose stage's device path (run on the stand-in and on a GPU)
# ---------------------------------------------------------------------------------------------
def numpy_merge(hm: np.ndarray, convention: str) -> np.ndarray:
    """The host path's merge (Preprocessor.merge); float16 sums may overflow to inf."""
    with np.errstate(over="ignore", invalid="ignore"):
        return Preprocessor(CropPolicy(convention=convention), flip_test=True).merge(hm)


def check_merge_on_device(g, launches: list | None = None) -> None:
    """In the GpuThread ``g``: the engine's batch of 4 (views, mirrors) uploaded, float32 and
    float16, merged on the device for both conventions: bit-identical to Preprocessor.merge; then
    decoded on the device: the host path's keypoints (NumPy merge + NumPy decoder) within the
    decoder's tolerance, and the same kernels on the host (shim) within 1e-4 heatmap px."""
    hm = random_maps(13, n=4)
    for dtype in (np.float32, np.float16):
        data = hm.astype(dtype)
        buf = _upload(g.cuda, data)
        for convention in ("dark", "hrnet"):
            crops = [crop_from_box(120, 40, 420, 560, convention=convention),
                     crop_from_box(640, 70, 380, 520, convention=convention)]
            if launches is not None:
                launches.clear()
            merged = g.decoder.wrap(int(buf), data.shape, dtype, g.stream).merge_flip(convention)
            assert merged.shape == (2, J, 96, 72) and merged.dtype == np.float32 and merged.stream is g.stream
            if launches is not None:
                assert launches == [(cuda_build.MERGE_ENTRY_POINTS[np.dtype(dtype).name], (918, 1), (256, 1, 1), 0)]
            want = numpy_merge(data, convention)
            got = merged.to_host()
            nan = np.isnan(want)
            assert np.array_equal(np.isnan(got), nan)
            assert np.array_equal(got[~nan].view(np.uint32), want[~nan].view(np.uint32)), (dtype, convention)
            for method in ("dark", "standard"):
                uv, scores = decode.decode_to_image(merged, crops, method)
                host_uv, host_scores = decode.decode_to_image(want, crops, method)
                assert np.array_equal(scores, host_scores)
                assert np.array_equal(np.isnan(uv), np.isnan(host_uv))
                mag = np.array([np.abs(c.hm_to_img[:, :2]).sum(axis=1).max() for c in crops])[:, None, None]
                err = np.nan_to_num(np.abs(uv - host_uv))
                assert np.all(err <= 1e-3 * mag + 1e-3), f"{dtype} {convention} {method}: {err.max()}"
                shim_uv, shim_scores = host_decoder.decode_to_image(want, crops, method)
                assert np.array_equal(scores, shim_scores)
                assert np.all(np.nan_to_num(np.abs(uv - shim_uv)) <= 1e-4 * mag + 1e-4)
        buf.free()


class MapsEngine:
    """A HeatmapEngine whose output is known: per view, the DARK target maps of the true joints
    seen through the stage's current crop, plus seeded noise; the mirrored views get the mirror of
    other targets (a network that is not mirror-equivariant), so the merge changes the answer."""

    def __init__(self, truth, convention: str):
        self.truth, self.convention = truth, convention
        self.stage = None
        self.info = ModelInfo(name="maps")
        self.calls = 0

    def maps(self, batch: np.ndarray) -> np.ndarray:
        assert batch.shape[1:] == (3, 384, 288)
        rng = np.random.default_rng(self.calls)
        self.calls += 1
        crops = self.stage.last_crops
        views = np.stack([decode.encode(c.image_to_heatmap(t)) for c, t in zip(crops, self.truth)])
        out = [views + rng.normal(0.0, 0.01, views.shape).astype(np.float32)]
        if batch.shape[0] == 4:
            shifted = np.stack([decode.encode(c.image_to_heatmap(t) + [0.4, -0.3]) for c, t in zip(crops, self.truth)])
            out.append(flip_back(shifted, self.convention) + rng.normal(0.0, 0.01, views.shape).astype(np.float32))
        return np.concatenate(out).astype(np.float32)

    def infer(self, batch: np.ndarray) -> np.ndarray:
        return self.maps(batch)


class DeviceMapsEngine(MapsEngine):
    """The same maps, left on the device as TensorRTEngine.infer_on_device leaves them: one
    engine-owned output buffer on the GpuThread's stream, wrapped by its decoder."""

    def __init__(self, g, truth, convention: str):
        super().__init__(truth, convention)
        self.g = g
        self.buf = g.cuda.mem_alloc(4 * J * 96 * 72 * 4)
        self.device_calls = 0

    def infer_on_device(self, batch: np.ndarray):
        maps = self.maps(batch)
        self.g.cuda.memcpy_htod(self.buf, maps)
        self.device_calls += 1
        return self.g.decoder.wrap(int(self.buf), maps.shape, np.float32, self.g.stream)


def check_stage_device_path(g, flip_test: bool, convention: str, engine_cls=None):
    """In the GpuThread ``g``: HeatmapPoseStage takes the device path when the engine has
    infer_on_device (merge and decode on the device) and gives the host path's keypoints, frame
    after frame with tracking, within the decoder's tolerance; both are near the truth.
    engine_cls: the device engine (DeviceMapsEngine, or one with more device paths); -> it."""
    from tests.pose.test_preprocess_stage import _frame, _truth

    truth = _truth(3)
    policy = CropPolicy(roi_xywh=(200, 0, 880, 720), convention=convention)
    host_engine, dev_engine = MapsEngine(truth, convention), (engine_cls or DeviceMapsEngine)(g, truth, convention)
    host = HeatmapPoseStage(host_engine, Preprocessor(policy, flip_test=flip_test))
    dev = HeatmapPoseStage(dev_engine, Preprocessor(policy, flip_test=flip_test))
    host_engine.stage, dev_engine.stage = host, dev
    for index in range(3):
        frame = _frame(index)
        want, got = host.estimate(frame), dev.estimate(frame)
        assert dev.last_crop_sources == host.last_crop_sources
        for view in range(2):
            np.testing.assert_allclose(got[view].uv_px, want[view].uv_px, atol=0.02)
            np.testing.assert_allclose(got[view].score, want[view].score, atol=1e-6)
            # The mirrors' targets sit (0.4, -0.3) heatmap px away: the merged peak is the midpoint.
            crop = dev.last_crops[view]
            expected = crop.heatmap_to_image(crop.image_to_heatmap(truth[view]) + ([0.2, -0.15] if flip_test else 0.0))
            mag = np.abs(crop.hm_to_img[:, :2]).sum(axis=1).max()
            np.testing.assert_allclose(got[view].uv_px, expected, atol=0.05 * mag)
    assert dev_engine.device_calls == 3
    dev.warm_up(1)  # the device path whole on blank input
    assert dev_engine.device_calls == 4
    return dev_engine


def test_merge_on_the_stand_in(stand_in):
    """GpuHeatmaps.merge_flip's pycuda logic (packing, launch, buffer, dtype) without a GPU."""
    from appliance.pose.cuda import decoder as cuda_decoder

    with cuda_decoder.GpuThread() as gpu:
        gpu.call(lambda g: check_merge_on_device(g, stand_in))
        with pytest.raises(ValueError, match="even batch"):
            gpu.call(lambda g: g.decoder.wrap(0, (3, J, 96, 72), np.float32, g.stream).merge_flip("dark"))
        wrapped = gpu.call(lambda g: g.decoder.wrap(0, (4, J, 96, 72), np.float32, g.stream))
        with pytest.raises(RuntimeError, match="thread"):
            wrapped.merge_flip("dark")


@pytest.mark.parametrize("flip_test,convention", [(True, "dark"), (True, "hrnet"), (False, "dark")])
def test_stage_device_path_on_the_stand_in(stand_in, flip_test, convention):
    """The pose stage's TensorRT path (infer_on_device -> merge kernel -> decode kernels) without a GPU."""
    from appliance.pose.cuda import decoder as cuda_decoder

    with cuda_decoder.GpuThread() as gpu:
        stand_in.clear()
        gpu.call(lambda g: check_stage_device_path(g, flip_test, convention))
        names = {name for name, *_ in stand_in}
        assert (cuda_build.MERGE_ENTRY_POINTS["float32"] in names) == flip_test
        assert cuda_build.ENTRY_POINTS[("dark", "float32")] in names


# ---------------------------------------------------------------------------------------------
# on a real GPU
# ---------------------------------------------------------------------------------------------
def _gpu_or_skip():
    from appliance.pose.cuda import decoder as cuda_decoder

    reason = cuda_decoder.unavailable_reason()
    if reason is not None:
        pytest.skip(f"no GPU path here: {reason}")
    try:
        return cuda_decoder.GpuThread()
    except (cuda_decoder.CudaUnavailable, cuda_build.CudaBuildError) as e:
        pytest.fail(f"a CUDA device exists but the decoder cannot start on it: {e}")


@pytest.fixture(scope="module")
def gpu():
    g = _gpu_or_skip()
    yield g
    g.close()


def _decode_on_gpu(gpu, hm: np.ndarray, mats: np.ndarray, method: str, blur_kernel: int = 11) -> np.ndarray:
    def run(g):
        buf = _upload(g.cuda, hm)
        try:
            return g.decoder.decode(int(buf), hm.shape, hm.dtype, g.stream, mats, method, blur_kernel)
        finally:
            buf.free()

    return gpu.call(run)


@pytest.mark.parametrize("method", ["dark", "standard"])
def test_gpu_fixture_random_and_degenerate_maps_match_numpy(gpu, fixtures_dir, method):
    """The reference fixture, seeded random maps (float32 and float16) and the degenerate kinds,
    decoded by the GPU: <= 1e-3 heatmap px, same NaN pattern, identical scores."""
    sets = [np.load(fixtures_dir / "dark_reference_sample.npz")["heatmaps"], random_maps(1), random_maps(2),
            degenerate_maps()[0]]
    for hm in sets:
        for dtype in (np.float32, np.float16):
            data = hm.astype(dtype)
            out = _decode_on_gpu(gpu, data, host_decoder.identity_affines(data.shape[0]), method)
            assert_matches_numpy(data, out[..., :2], out[..., 2], method, what=f"GPU {method} {np.dtype(dtype)}")


def test_gpu_float16_loads_are_exact(gpu):
    """The device's cvt.f32.f16 path: a float16 buffer decodes bit-identically to the same
    values given as float32."""
    hm16 = random_maps(5).astype(np.float16)
    mats = host_decoder.identity_affines(hm16.shape[0])
    for method in ("dark", "standard"):
        a = _decode_on_gpu(gpu, hm16, mats, method)
        b = _decode_on_gpu(gpu, hm16.astype(np.float32), mats, method)
        assert np.array_equal(a, b, equal_nan=True)


def test_gpu_matches_the_host_build_of_the_same_source(gpu):
    """GPU and host shim run the same source: they agree far inside the tolerance."""
    hm = random_maps(7, n=10)
    mats = host_decoder.identity_affines(10)
    for method in ("dark", "standard"):
        a = _decode_on_gpu(gpu, hm, mats, method)
        b = host_decoder.decode_raw(hm, mats, method)
        assert np.array_equal(np.isnan(a), np.isnan(b))
        assert np.array_equal(a[..., 2], b[..., 2])
        assert np.nanmax(np.abs(a[..., :2] - b[..., :2])) <= 1e-4


def test_gpu_decode_to_image_dispatch(gpu):
    """decode.decode_to_image picks the GPU path for GpuHeatmaps and maps through each crop."""
    hm = random_maps(9, n=2)
    crops = [crop_from_box(100, 50, 400, 500), crop_from_box(700, 80, 380, 520, convention="hrnet")]

    def run(g):
        buf = _upload(g.cuda, hm)
        uv, scores = decode.decode_to_image(g.decoder.wrap(int(buf), hm.shape, hm.dtype, g.stream), crops, "dark")
        buf.free()
        return uv, scores

    uv, scores = gpu.call(run)
    want_uv, want_scores = host_decoder.decode_to_image(hm, crops, "dark")
    assert np.array_equal(scores, want_scores)
    assert np.nanmax(np.abs(uv - want_uv)) <= 1e-2  # 1e-4 heatmap px times the crop's scale


def test_gpu_bench_row_reports_kernel_time(gpu):
    """`agma bench decode-cuda` on a GPU: kernel time from CUDA events, per frame pair."""
    from types import SimpleNamespace

    from appliance.bench.decode_cuda import bench_decode_cuda

    rows = bench_decode_cuda(SimpleNamespace(repeat=50, seed=0))
    assert all(r["available"] and r["median_us"] > 0 for r in rows)


def test_gpu_flip_merge_matches_numpy_and_decodes_as_the_host_path(gpu):
    """The merge kernel on the GPU: bit-identical to Preprocessor.merge (float32 and float16
    maps, both conventions); merged then decoded on the device = the host path's keypoints."""
    gpu.call(check_merge_on_device)


@pytest.mark.parametrize("flip_test,convention", [(True, "dark"), (True, "hrnet"), (False, "dark")])
def test_gpu_stage_device_path_matches_the_host_path(gpu, flip_test, convention):
    """HeatmapPoseStage on an engine with infer_on_device, on the GPU: the host path's keypoints."""
    gpu.call(lambda g: check_stage_device_path(g, flip_test, convention))
