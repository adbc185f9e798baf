// Host build of the CUDA heatmap decoder and flip-test merge: the very same decode_heatmaps.cu, compiled by g++
// through cuda_host_shim.h and launched with the configuration the GPU path uses (the caller
// passes it: appliance/pose/cuda_build.py, launch_config). A small C ABI for ctypes
// (appliance/pose/host_decoder.py):
//
//   g++ -std=c++17 -O2 -fPIC -shared -pthread -ffp-contract=off -fno-strict-aliasing
//       -o libagma_decode_host.so decode_host.cpp

#include "cuda_host_shim.h"

#include "../decode_heatmaps.cu"

#include <mutex>
#include <string>

namespace {

std::mutex g_launch_mutex;  // the shim's launch state is per launch; one launch at a time
thread_local std::string g_error;

int fail(const std::string& msg)
{
    g_error = msg;
    return 1;
}

}  // namespace

extern "C" {

// Decode n_views x n_joints heatmaps of height x width.
//   heatmaps    N*J*H*W float32 (dtype_code 0) or IEEE float16 bits (dtype_code 1)
//   method_code 0 DARK, 1 standard
//   hm_to_img   N*6 float64 (per view, row-major 2x3 heatmap px -> image px)
//   threads, shared_bytes: the launch configuration (one block per heatmap; views are
//               launched in chunks of at most AGMA_MAX_VIEWS, as on the GPU)
//   out         N*J*3 float32 (u, v, score)
// Returns 0, or 1 with agma_host_last_error() set.
int agma_host_decode(const void* heatmaps, int dtype_code, int method_code, int n_views, int n_joints, int height,
                     int width, const double* hm_to_img, int blur_kernel, int threads,
                     unsigned long long shared_bytes, float* out)
{
    if (dtype_code != 0 && dtype_code != 1) return fail("dtype_code must be 0 (float32) or 1 (float16)");
    if (method_code != 0 && method_code != 1) return fail("method_code must be 0 (dark) or 1 (standard)");
    if (n_views < 0 || n_joints < 1 || height < 1 || width < 1) return fail("bad heatmap shape");
    if (threads < 1 || threads > AGMA_MAX_THREADS) return fail("threads must be 1..1024");
    const unsigned long long need = AGMA_SHARED_BYTES(method_code == 0, (unsigned long long)height,
                                                      (unsigned long long)width, (unsigned long long)threads);
    if (shared_bytes < need) return fail("shared_bytes below AGMA_SHARED_BYTES: " + std::to_string(need));

    void (*kernel)(const AgmaDecodeParams) = nullptr;
    if (method_code == 0) kernel = dtype_code == 0 ? agma_decode_dark_f32 : agma_decode_dark_f16;
    else kernel = dtype_code == 0 ? agma_decode_standard_f32 : agma_decode_standard_f16;
    const std::size_t elem = dtype_code == 0 ? 4 : 2;
    const std::size_t per_view = (std::size_t)n_joints * height * width * elem;

    std::lock_guard<std::mutex> lock(g_launch_mutex);
    for (int v0 = 0; v0 < n_views; v0 += AGMA_MAX_VIEWS) {
        const int nv = n_views - v0 < AGMA_MAX_VIEWS ? n_views - v0 : AGMA_MAX_VIEWS;
        AgmaDecodeParams p;
        std::memset(&p, 0, sizeof p);
        p.heatmaps = (unsigned long long)(const unsigned char*)heatmaps + (unsigned long long)v0 * per_view;
        p.out = (unsigned long long)(out + (std::size_t)v0 * n_joints * AGMA_OUT_PER_JOINT);
        for (int v = 0; v < nv; ++v)
            for (int i = 0; i < 6; ++i) p.hm_to_img[v][i] = hm_to_img[(std::size_t)(v0 + v) * 6 + i];
        p.n_views = nv;
        p.n_joints = n_joints;
        p.height = height;
        p.width = width;
        p.blur_kernel = blur_kernel;
        std::string err;
        if (!agma_shim::launch(kernel, dim3((unsigned int)(nv * n_joints)), dim3((unsigned int)threads),
                               (std::size_t)shared_bytes, &err, p))
            return fail(err);
    }
    return 0;
}

// Launch one entry point, by name, with a ready-made AgmaDecodeParams (its addresses are host
// addresses here) and an explicit launch configuration: what a pycuda launch does on the GPU.
// Lets the tests run appliance/pose/cuda_decoder.py's packing and chunking against the kernel
// without a GPU.
int agma_host_launch_params(const char* entry, const void* params, int grid_x, int threads,
                            unsigned long long shared_bytes)
{
    void (*kernel)(const AgmaDecodeParams) = nullptr;
    const std::string name(entry ? entry : "");
    if (name == "agma_decode_dark_f32") kernel = agma_decode_dark_f32;
    else if (name == "agma_decode_dark_f16") kernel = agma_decode_dark_f16;
    else if (name == "agma_decode_standard_f32") kernel = agma_decode_standard_f32;
    else if (name == "agma_decode_standard_f16") kernel = agma_decode_standard_f16;
    else return fail("unknown entry point " + name);
    AgmaDecodeParams p;
    std::memcpy(&p, params, sizeof p);
    if (p.n_views < 1 || p.n_views > AGMA_MAX_VIEWS || grid_x != p.n_views * p.n_joints)
        return fail("grid does not match the parameters: one block per heatmap");
    if (threads < 1 || threads > AGMA_MAX_THREADS) return fail("threads must be 1..1024");
    const bool dark = name.find("dark") != std::string::npos;
    if (shared_bytes < (unsigned long long)AGMA_SHARED_BYTES(dark, (unsigned long long)p.height,
                                                            (unsigned long long)p.width, (unsigned long long)threads))
        return fail("shared_bytes below AGMA_SHARED_BYTES");
    std::lock_guard<std::mutex> lock(g_launch_mutex);
    std::string err;
    if (!agma_shim::launch(kernel, dim3((unsigned int)grid_x), dim3((unsigned int)threads), (std::size_t)shared_bytes,
                           &err, p))
        return fail(err);
    return 0;
}

// Launch the flip-test merge, by entry point name, with a ready-made AgmaMergeParams (packed by
// appliance/pose/cuda/build.py, pack_merge_params; host addresses here) and the launch
// configuration of merge_launch_config: what a pycuda launch does on the GPU.
int agma_host_launch_merge_params(const char* entry, const void* params, int grid_x, int threads)
{
    void (*kernel)(const AgmaMergeParams) = nullptr;
    const std::string name(entry ? entry : "");
    if (name == "agma_merge_flip_f32") kernel = agma_merge_flip_f32;
    else if (name == "agma_merge_flip_f16") kernel = agma_merge_flip_f16;
    else return fail("unknown merge entry point " + name);
    AgmaMergeParams p;
    std::memcpy(&p, params, sizeof p);
    if (p.n_views < 1 || p.n_joints < 1 || p.n_joints > AGMA_MERGE_MAX_JOINTS || p.height < 1 || p.width < 1)
        return fail("bad merge parameters");
    for (int j = 0; j < p.n_joints; ++j)
        if (p.flip_perm[j] < 0 || p.flip_perm[j] >= p.n_joints) return fail("flip_perm out of range");
    if (threads < 1 || threads > AGMA_MAX_THREADS) return fail("threads must be 1..1024");
    const unsigned long long total = (unsigned long long)p.n_views * p.n_joints * p.height * p.width;
    if (grid_x < 1 || (unsigned long long)grid_x * (unsigned long long)threads < total)
        return fail("grid does not cover the output: one thread per element");
    std::lock_guard<std::mutex> lock(g_launch_mutex);
    std::string err;
    if (!agma_shim::launch(kernel, dim3((unsigned int)grid_x), dim3((unsigned int)threads), 0, &err, p))
        return fail(err);
    return 0;
}

// Launch preprocessing with a ready-made AgmaPreprocessParams (packed by appliance/pose/cuda/build.py,
// pack_preprocess_params; host addresses here) and the launch configuration of
// preprocess_launch_config: what a pycuda launch does on the GPU.
int agma_host_launch_preprocess_params(const void* params, int grid_x, int grid_y, int threads)
{
    AgmaPreprocessParams p;
    std::memcpy(&p, params, sizeof p);
    if (p.n_out < 1 || p.n_out > AGMA_PRE_MAX_OUT || grid_y != p.n_out) return fail("grid.y must be n_out (1..8)");
    if (p.out_width < 1 || p.out_height < 1 || p.src_width < 1 || p.src_height < 1 || p.src_stride < 3 * p.src_width)
        return fail("bad preprocessing sizes");
    if (threads < 1 || threads > AGMA_MAX_THREADS) return fail("threads must be 1..1024");
    if ((unsigned long long)grid_x * (unsigned long long)threads < (unsigned long long)p.out_width * p.out_height)
        return fail("grid does not cover the output: one thread per pixel");
    std::lock_guard<std::mutex> lock(g_launch_mutex);
    std::string err;
    if (!agma_shim::launch(agma_preprocess_bgr8_f32, dim3((unsigned int)grid_x, (unsigned int)grid_y),
                           dim3((unsigned int)threads), 0, &err, p))
        return fail(err);
    return 0;
}
int agma_host_preprocess_params_size(void) { return (int)sizeof(AgmaPreprocessParams); }

const char* agma_host_last_error(void) { return g_error.c_str(); }

// The device code's float -> float16 rounding (the merge's float16 sum), for a check against NumPy.
void agma_host_float_to_half_array(const float* in, unsigned short* out, unsigned long long n)
{
    for (unsigned long long i = 0; i < n; ++i) out[i] = agma_float_to_half_bits_rn(in[i]);
}
int agma_host_merge_params_size(void) { return (int)sizeof(AgmaMergeParams); }
int agma_host_merge_max_joints(void) { return AGMA_MERGE_MAX_JOINTS; }

// The device code's float16 conversion, for an exhaustive check against NumPy.
float agma_host_half_to_float(unsigned short h) { return agma_half_bits_to_float(h); }

// Layout constants of decode_heatmaps.cuh, checked against cuda_build.py by the tests.
int agma_host_params_size(void) { return (int)sizeof(AgmaDecodeParams); }
int agma_host_max_views(void) { return AGMA_MAX_VIEWS; }
int agma_host_max_blur_kernel(void) { return AGMA_MAX_BLUR_KERNEL; }
unsigned long long agma_host_shared_bytes(int is_dark, int height, int width, int threads)
{
    return AGMA_SHARED_BYTES(is_dark != 0, (unsigned long long)height, (unsigned long long)width,
                             (unsigned long long)threads);
}

}  // extern "C"
