// The flip-test merge on the GPU: each view's heatmaps averaged with its mirror's, flipped back.
//
// Device code only, like decode_heatmaps.cuh (whose loads it uses): it compiles with nvcc and
// NVRTC 12.2 without a host header, and through host/cuda_host_shim.h with g++.
//
// It reproduces appliance.pose.preprocess.Preprocessor.merge, that is
//     (hm[:n] + flip_back(hm[n:], convention)) * float32(0.5)
// with appliance.pose.crop.flip_back: mirror the width axis, swap the left/right joints
// (flip_perm, from appliance.joints.FLIP_PAIRS), and for "hrnet" (shift = 1) shift the maps
// one column to the right keeping column 0. So, for output view v < n, joint j, row y, column x:
//     src_x = W - 1 - (shift && x >= 1 ? x - 1 : x)
//     out[v, j, y, x] = (in[v, j, y, x] + in[n + v, flip_perm[j], y, src_x]) * 0.5
// float32 input: one IEEE float32 add and the (exact) halving, as NumPy does.
// float16 input: NumPy adds two float16 maps in float16 (the float32 sum rounded to nearest
// even float16: numpy's HALF_add), then the float16 sum times np.float32(0.5) is float32 (NumPy
// >= 2 promotion). The kernel does exactly that. The output is float32 in both cases: what
// Preprocessor.merge returns, and what the decoder reads.
//
// Launch (appliance/pose/cuda/build.py, merge_launch_config): one thread per output element,
// grid = (ceil(n * J * H * W / threads), 1, 1), block = (threads, 1, 1), no shared memory, no
// barrier. The output buffer must not overlap the input.

#ifndef AGMA_MERGE_FLIP_CUH
#define AGMA_MERGE_FLIP_CUH

#include "decode_heatmaps.cuh"

#define AGMA_MERGE_MAX_JOINTS 32

// One kernel parameter, by value: 2 * 8 + 6 * 4 + 32 * 4 = 168 bytes, 8-aligned.
// appliance/pose/cuda/build.py packs it as "<QQ6i32i".
struct AgmaMergeParams {
    unsigned long long heatmaps;  // 2n x J x H x W, float32 or float16 (IEEE binary16 bits)
    unsigned long long out;       // n x J x H x W float32
    int n_views;                  // n: views of the output (the input has 2n)
    int n_joints;                 // J <= AGMA_MERGE_MAX_JOINTS
    int height;
    int width;
    int shift;                    // 0: "dark" (no shift), 1: "hrnet" (one column to the right)
    int reserved;
    int flip_perm[AGMA_MERGE_MAX_JOINTS];  // joint j of the output reads joint flip_perm[j] of the mirror
};
static_assert(sizeof(AgmaMergeParams) == 168, "AgmaMergeParams layout changed: update cuda/build.py");

// float -> IEEE binary16 bits, round to nearest even (overflow to infinity, NaN stays NaN). On
// the device one cvt instruction; elsewhere the same rounding in integer arithmetic.
__device__ __forceinline__ unsigned short agma_float_to_half_bits_rn(float f)
{
#if defined(__CUDA_ARCH__)
    unsigned short h;
    asm("cvt.rn.f16.f32 %0, %1;" : "=h"(h) : "f"(f));
    return h;
#else
    const unsigned int x = (unsigned int)__float_as_int(f);
    const unsigned int sign = (x >> 16) & 0x8000u;
    const unsigned int expo = (x >> 23) & 0xffu;
    const unsigned int mant = x & 0x7fffffu;
    if (expo == 0xffu) {  // infinity, NaN (kept a NaN: quiet bit set)
        return (unsigned short)(mant == 0u ? (sign | 0x7c00u) : (sign | 0x7e00u | (mant >> 13)));
    }
    const int e = (int)expo - 127;
    if (e > 15) return (unsigned short)(sign | 0x7c00u);  // >= 2^16: infinity
    if (e >= -14) {  // a normal float16 (the rounding may carry into the exponent, up to infinity)
        const unsigned int q = mant >> 13;
        const unsigned int rem = mant & 0x1fffu;
        unsigned int h = sign | ((unsigned int)(e + 15) << 10) | q;
        if (rem > 0x1000u || (rem == 0x1000u && (q & 1u))) h += 1u;
        return (unsigned short)h;
    }
    if (e < -25) return (unsigned short)sign;  // below half the smallest subnormal: +-0
    // A float16 subnormal, in units of 2^-24: (mant | 2^23) * 2^(e - 23 + 24), shifted right by
    // s = -e - 1 (14 .. 24); a carry into 0x400 is the smallest normal, correctly encoded.
    const unsigned int m = mant | 0x800000u;
    const int s = -e - 1;
    unsigned int q = m >> s;
    const unsigned int rem = m & ((1u << s) - 1u);
    const unsigned int half = 1u << (s - 1);
    if (rem > half || (rem == half && (q & 1u))) q += 1u;
    return (unsigned short)(sign | q);
#endif
}

// The sum of two loaded elements as NumPy computes it in the input's dtype.
__device__ __forceinline__ float agma_merge_sum(float a, float b, const float*) { return __fadd_rn(a, b); }
__device__ __forceinline__ float agma_merge_sum(float a, float b, const unsigned short*)
{
    return agma_half_bits_to_float(agma_float_to_half_bits_rn(__fadd_rn(a, b)));
}

// Indices fit in int: merge_launch_config refuses inputs of 2^31 elements or more.
template <typename T>
__device__ void agma_merge_flip(const AgmaMergeParams& p)
{
    if (p.n_joints < 1 || p.n_joints > AGMA_MERGE_MAX_JOINTS || p.n_views < 1) return;
    const int w = p.width, h = p.height;
    const int plane = h * w;
    const int total = p.n_views * p.n_joints * plane;
    const unsigned long long i64 = (unsigned long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (i64 >= (unsigned long long)total) return;
    const int i = (int)i64;
    const int x = i % w;
    const int y = (i / w) % h;
    const int vj = i / plane;  // v * J + j
    const int j = vj % p.n_joints;
    const int v = vj / p.n_joints;
    const int xm = (p.shift != 0 && x >= 1) ? x - 1 : x;
    const int src = ((p.n_views + v) * p.n_joints + p.flip_perm[j]) * plane + y * w + (w - 1 - xm);
    const T* in = (const T*)p.heatmaps;
    const float s = agma_merge_sum(agma_load(in, i), agma_load(in, src), in);
    ((float*)p.out)[i] = __fmul_rn(s, 0.5f);
}

#endif  // AGMA_MERGE_FLIP_CUH
