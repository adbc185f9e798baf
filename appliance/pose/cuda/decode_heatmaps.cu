// Entry points of the heatmap decoder (the arithmetic is in decode_heatmaps.cuh), of the
// flip-test merge (merge_flip.cuh) and of preprocessing (preprocess.cuh).
//
// One block per heatmap: grid = (n_views * n_joints, 1, 1), block = (threads, 1, 1) with any
// threads in 1..1024 (256 by default), dynamic shared memory
// AGMA_SHARED_BYTES(is_dark, height, width, threads). Input N x J x H x W float32 (_f32) or
// IEEE float16 (_f16), output N x J x 3 float32 (u, v, score) in image px.
//
// Compiles alone: nvcc -cubin -arch=sm_87 -I<this folder> decode_heatmaps.cu, or NVRTC with
// --gpu-architecture=compute_87 -std=c++17 -I<this folder>.

#include "decode_heatmaps.cuh"

extern "C" __global__ void __launch_bounds__(AGMA_MAX_THREADS) agma_decode_dark_f32(const AgmaDecodeParams p)
{
    agma_decode_dark<float>(p);
}

extern "C" __global__ void __launch_bounds__(AGMA_MAX_THREADS) agma_decode_dark_f16(const AgmaDecodeParams p)
{
    agma_decode_dark<unsigned short>(p);
}

extern "C" __global__ void __launch_bounds__(AGMA_MAX_THREADS) agma_decode_standard_f32(const AgmaDecodeParams p)
{
    agma_decode_standard<float>(p);
}

extern "C" __global__ void __launch_bounds__(AGMA_MAX_THREADS) agma_decode_standard_f16(const AgmaDecodeParams p)
{
    agma_decode_standard<unsigned short>(p);
}

// The flip-test merge (merge_flip.cuh): 2n x J x H x W float32 (_f32) or float16 (_f16) in,
// n x J x H x W float32 out; one thread per output element, any block size, no shared memory.
#include "merge_flip.cuh"

extern "C" __global__ void __launch_bounds__(AGMA_MAX_THREADS) agma_merge_flip_f32(const AgmaMergeParams p)
{
    agma_merge_flip<float>(p);
}

extern "C" __global__ void __launch_bounds__(AGMA_MAX_THREADS) agma_merge_flip_f16(const AgmaMergeParams p)
{
    agma_merge_flip<unsigned short>(p);
}

// Preprocessing (preprocess.cuh): uint8 BGR views -> the engine's float32 N x 3 x H x W input;
// one thread per output pixel, grid = (ceil(W * H / threads), n_out, 1), no shared memory.
#include "preprocess.cuh"

extern "C" __global__ void __launch_bounds__(AGMA_MAX_THREADS) agma_preprocess_bgr8_f32(const AgmaPreprocessParams p)
{
    agma_preprocess_bgr8(p);
}
