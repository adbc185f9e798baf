"""The GPU path of preprocessing (appliance/pose/cuda/decoder.py CudaPreprocessor, the pose stage's
``infer_views_on_device``): on a real GPU when there is one, and its pycuda logic everywhere.

Why: on the box the frame's two uint8 views go to the GPU once and the kernel writes the engine's
input; no float batch exists on the host. What must hold, and what these tests check:
- the bytes the kernel writes at the engine's input are the CPU path's batch (Preprocessor.batch:
  cv2.warpAffine + the NumPy normalisation), with and without the flip test, for tracked crops that
  change every frame and views at an offset inside one staging buffer;
- the staging and device buffers are allocated once per image size, not per frame;
- the pose stage hands the views and the crops it chose to the engine (the same keypoints as the
  host path, frame after frame with tracking), and its warm-up runs this path;
- the preprocessor refuses a thread that does not own the CUDA context, and bad views.
Everywhere (CI has no GPU) this runs against the host stand-in for pycuda.driver
(tests/pose/test_cuda_gpu.py: host memory, launches through the host shim with the launch
configuration pycuda was given); the GPU tests skip, saying why, without pycuda or a device.
"""
from __future__ import annotations


import numpy as np
import pytest

from appliance.bench.preprocess import opencv_batch
from appliance.pose.crop import crop_from_box
from appliance.pose.cuda import build as cuda_build
from appliance.pose.engine import INPUT_HEIGHT, INPUT_WIDTH
from tests.pose.test_cuda_gpu import DeviceMapsEngine, _gpu_or_skip, check_stage_device_path, stand_in  # noqa: F401
from tests.pose.test_cuda_preprocess_host import view

BOUND = 1e-3  # the bound after normalisation (one uint8 level is 0.017)


def _input_buffer(cuda, n: int):
    return cuda.mem_alloc(n * 3 * INPUT_HEIGHT * INPUT_WIDTH * 4)


def _read_input(g, buf, n: int) -> np.ndarray:
    host = g.cuda.pagelocked_empty((n, 3, INPUT_HEIGHT, INPUT_WIDTH), np.float32)
    g.cuda.memcpy_dtoh_async(host, buf, g.stream)
    g.stream.synchronize()
    return np.array(host)


def check_preprocessor(g, launches: list | None = None) -> None:
    """In the GpuThread ``g``: frames of two sizes, crops across the edges, magnifying and inside,
    with and without the flip test: the engine's input equals Preprocessor.batch within BOUND
    (exactly on the host stand-in); buffers allocated once per size."""
    from appliance.pose.cuda.decoder import CudaPreprocessor

    pre = CudaPreprocessor(g.decoder)
    buf = _input_buffer(g.cuda, 4)
    cases = [
        ((720, 1280), [crop_from_box(-150.0, -60.0, 500.0, 520.0), crop_from_box(300.0, 100.0, 600.0, 400.0)]),
        ((720, 1280), [crop_from_box(1180.0, 640.0, 90.0, 120.0), crop_from_box(-300.0, -200.0, 1900.0, 1200.0)]),
        ((376, 672), [crop_from_box(100.0, 40.0, 300.0, 300.0), crop_from_box(380.0, 90.0, 260.0, 280.0)]),
    ]
    allocations = []
    for k, ((h, w), crops) in enumerate(cases):
        # views of one (2, H, W, 3) block, as the capture ring hands them over
        block = np.stack([view(2 * k + 1)[:h, :w], view(2 * k + 2)[:h, :w]])
        left, right = block[0], block[1]
        for flip_test in (False, True):
            if launches is not None:
                launches.clear()
            n = pre.enqueue(left, right, crops, flip_test, int(buf), g.stream)
            assert n == (4 if flip_test else 2)
            if launches is not None:
                grid = -(-(INPUT_WIDTH * INPUT_HEIGHT) // 256)
                assert launches == [(cuda_build.PREPROCESS_ENTRY_POINT, (grid, n), (256, 1, 1), 0)]
            got = _read_input(g, buf, n)
            want = opencv_batch(left, right, crops, flip_test)
            diff = np.abs(got.astype(np.float64) - want)
            assert diff.max() <= BOUND, f"case {k} flip {flip_test}: max |GPU - OpenCV| = {diff.max():.4f}"
            if launches is not None:
                assert np.array_equal(got, want)  # the host shim is OpenCV's arithmetic bit for bit
            allocations.append(pre.allocations)
    assert allocations == [2, 2, 2, 2, 4, 4]  # a new image size re-allocates once, frames do not
    with pytest.raises(ValueError, match="uint8"):
        pre.enqueue(left.astype(np.float32), right, cases[0][1], False, int(buf), g.stream)
    with pytest.raises(ValueError, match="one crop per view"):
        pre.enqueue(left, right, cases[0][1][:1], False, int(buf), g.stream)
    buf.free()


class ViewsMapsEngine(DeviceMapsEngine):
    """TensorRTEngine.infer_views_on_device's contract on a known network: the views are
    preprocessed on the device into an engine-owned input buffer, which must hold the CPU path's
    batch for the crops the stage chose; the output is DeviceMapsEngine's known maps."""

    def __init__(self, g, truth, convention: str):
        super().__init__(g, truth, convention)
        from appliance.pose.cuda.decoder import CudaPreprocessor

        self.pre = CudaPreprocessor(g.decoder)
        self.input = _input_buffer(g.cuda, 4)
        self.views_calls = 0

    def infer_views_on_device(self, left, right, crops, flip_test):
        n = self.pre.enqueue(left, right, crops, flip_test, int(self.input), self.g.stream)
        got = _read_input(self.g, self.input, n)
        want = opencv_batch(left, right, crops, flip_test)
        assert np.abs(got.astype(np.float64) - want).max() <= BOUND
        self.views_calls += 1
        return self.infer_on_device(got)


def check_stage_views_path(g, flip_test: bool) -> None:
    """HeatmapPoseStage prefers infer_views_on_device: the host path's keypoints, frame after frame
    with tracking (crops change), and its warm-up runs the kernel too."""
    engine = check_stage_device_path(g, flip_test, "dark", engine_cls=ViewsMapsEngine)
    assert engine.views_calls == 4  # three frames and the warm-up, every one through the kernel


def test_preprocessor_on_the_stand_in(stand_in):
    """CudaPreprocessor's pycuda logic (staging, upload, offsets, packing, launch) without a GPU."""
    from appliance.pose.cuda import decoder as cuda_decoder

    with cuda_decoder.GpuThread() as gpu:
        gpu.call(lambda g: check_preprocessor(g, stand_in))
        pre = gpu.call(lambda g: cuda_decoder.CudaPreprocessor(g.decoder))
        img = np.zeros((720, 1280, 3), np.uint8)
        with pytest.raises(RuntimeError, match="thread"):
            pre.enqueue(img, img, [crop_from_box(0, 0, 100, 100)] * 2, False, 0, gpu.stream)


@pytest.mark.parametrize("flip_test", [False, True])
def test_stage_views_path_on_the_stand_in(stand_in, flip_test):
    """The pose stage's TensorRT path with GPU preprocessing, without a GPU."""
    from appliance.pose.cuda import decoder as cuda_decoder

    with cuda_decoder.GpuThread() as gpu:
        stand_in.clear()
        gpu.call(lambda g: check_stage_views_path(g, flip_test))
        assert cuda_build.PREPROCESS_ENTRY_POINT in {name for name, *_ in stand_in}


@pytest.fixture(scope="module")
def gpu():
    g = _gpu_or_skip()
    yield g
    g.close()


def test_gpu_preprocessor_matches_opencv(gpu):
    """On a GPU: the kernel's output at the engine's input within 1e-3 of the OpenCV path."""
    gpu.call(check_preprocessor)


@pytest.mark.parametrize("flip_test", [False, True])
def test_gpu_stage_views_path_matches_the_host_path(gpu, flip_test):
    """On a GPU: HeatmapPoseStage with GPU preprocessing gives the host path's keypoints."""
    gpu.call(lambda g: check_stage_views_path(g, flip_test))
