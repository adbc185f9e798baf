// Heatmap decoding on the GPU: DARK and standard, one block per heatmap.
//
// Device code only. It compiles as it is with nvcc (-cubin) and with NVRTC (CUDA 12.2 and
// later), and, through host/cuda_host_shim.h, with g++ for the host check: no host header, no
// <cstdint>/<math.h>, nothing but CUDA's built-in types and math.
//
// The arithmetic follows the NumPy decoder (appliance/pose/decode.py) and the reference
// get_final_preds of DarkPose / HRNet it reproduces:
//   - argmax of the raw map, first maximum in row-major order (a NaN counts as the maximum,
//     as np.argmax does); the score is that raw maximum;
//   - a map whose maximum is not > 0 gives NaN coordinates and keeps its score;
//   - DARK: only where 2 <= x <= W-3 and 2 <= y <= H-3: blur the map with OpenCV's Gaussian
//     (ksize k, sigma 0.3 * ((k - 1) / 2 - 1) + 0.8, zero padding), rescale it so that its
//     maximum over the whole map equals the raw maximum, clamp at 1e-10, log, and take one
//     Taylor (Newton) step -H^-1 D with central differences where det(H) != 0; the offset is
//     not clamped.
//     Precision and order, as the NumPy decoder: the 13 samples of the blurred map that the
//     Taylor step reads (5x5 around the maximum) are blurred in double from the raw map. If
//     all are >= 1e-9 the rescale cannot reach the clamp (it multiplies by raw max / blurred
//     max >= 1) and, being one positive factor, cancels in every log difference: the logs are
//     taken in double without it. Otherwise the reference's float32 path runs: the blurred map's
//     maximum over the *whole* map, exactly as float32(double blur) (a float32 blur of the
//     whole map bounds it, the few candidates within the bound are blurred again in double),
//     the float32 rescale, clamp at 1e-10 and float32 log. The step itself is in double.
//   - standard: only where 1 < x < W-1 and 1 < y < H-1, +-0.25 px per axis toward the higher
//     neighbour (no step where the two neighbours are equal);
//   - (x, y) heatmap px -> (u, v) image px through the view's (2, 3) affine, in double.
//
// Launch (see appliance/pose/cuda_build.py, launch_config): grid = (views * joints) blocks,
// one per heatmap; any block size from 1 to 1024 threads (256 by default); dynamic shared
// memory AGMA_SHARED_BYTES(method, H, W, threads). Every branch around a __syncthreads() is
// uniform across the block.

#ifndef AGMA_DECODE_HEATMAPS_CUH
#define AGMA_DECODE_HEATMAPS_CUH

#define AGMA_MAX_VIEWS 8
#define AGMA_MAX_BLUR_KERNEL 31
#define AGMA_MAX_THREADS 1024
#define AGMA_OUT_PER_JOINT 3
#define AGMA_LOG_FLOOR 1e-10f

// Dynamic shared memory, in 4-byte words. Doubles first (8-aligned): the blur taps unnormalised
// [32] and normalised [32], the row-blurred window around the maximum [5 x (4 + k) <= 176],
// the 5x5 samples [25, padded to 32] and their logs [25, padded to 32]; then the float taps
// [32], the reduction values [T] and indices [T] (8-aligned: also a double [T]), and (DARK
// only) the row-blurred map [H * W] in float.
#define AGMA_SHARED_REDUCE_OFFSET_WORDS (2 * (32 + 32 + 176 + 32 + 32) + 32)
#define AGMA_SHARED_WORDS_COMMON(threads) (AGMA_SHARED_REDUCE_OFFSET_WORDS + 2 * (threads))
#define AGMA_SHARED_BYTES(is_dark, height, width, threads) \
    (4 * (AGMA_SHARED_WORDS_COMMON(threads) + ((is_dark) ? (height) * (width) : 0)))

// The host shim maps dynamic shared memory to its own storage; on the device it is CUDA's.
#ifndef AGMA_EXTERN_SHARED
#define AGMA_EXTERN_SHARED(type, name) extern __shared__ type name[]
#endif

// One kernel parameter, passed by value (no upload of the affines each frame). Addresses are
// 64-bit integers so that the layout is the same everywhere: 2 * 8 + 8 * 6 * 8 + 6 * 4 = 424
// bytes, 8-aligned. appliance/pose/cuda_build.py packs it as "<QQ48d6i".
struct AgmaDecodeParams {
    unsigned long long heatmaps;  // N x J x H x W, float32 or float16 (IEEE binary16 bits)
    unsigned long long out;       // N x J x 3 float32: u, v (image px), score
    double hm_to_img[AGMA_MAX_VIEWS][6];  // per view: [a00 a01 a02 a10 a11 a12]
    int n_views;      // views in this launch, <= AGMA_MAX_VIEWS; gridDim.x == n_views * n_joints
    int n_joints;
    int height;
    int width;
    int blur_kernel;  // odd, 1..AGMA_MAX_BLUR_KERNEL (DARK only)
    int reserved;
};
static_assert(sizeof(AgmaDecodeParams) == 424, "AgmaDecodeParams layout changed: update cuda_build.py");

// ---- element loads ------------------------------------------------------------------------

// IEEE binary16 bits -> float, exact. On the device one cvt instruction; elsewhere (host
// shim, a host compilation pass) the same conversion in integer arithmetic.
__device__ __forceinline__ float agma_half_bits_to_float(unsigned short h)
{
#if defined(__CUDA_ARCH__)
    float f;
    asm("cvt.f32.f16 %0, %1;" : "=f"(f) : "h"(h));
    return f;
#else
    unsigned int sign = ((unsigned int)h & 0x8000u) << 16;
    unsigned int expo = ((unsigned int)h >> 10) & 0x1fu;
    unsigned int mant = (unsigned int)h & 0x3ffu;
    unsigned int bits;
    if (expo == 0u) {
        if (mant == 0u) {
            bits = sign;  // +-0
        } else {          // subnormal: normalise
            unsigned int shift = 0u;
            while ((mant & 0x400u) == 0u) {
                mant <<= 1;
                ++shift;
            }
            bits = sign | ((113u - shift) << 23) | ((mant & 0x3ffu) << 13);
        }
    } else if (expo == 31u) {
        bits = sign | 0x7f800000u | (mant << 13);  // inf, NaN (payload kept, quiet bit as is)
    } else {
        bits = sign | ((expo + 112u) << 23) | (mant << 13);
    }
    return __int_as_float((int)bits);
#endif
}

__device__ __forceinline__ float agma_load(const float* p, int i) { return p[i]; }
__device__ __forceinline__ float agma_load(const unsigned short* p, int i)
{
    return agma_half_bits_to_float(p[i]);
}

// ---- small helpers --------------------------------------------------------------------------

__device__ __forceinline__ bool agma_isnan(float v) { return v != v; }

__device__ __forceinline__ float agma_nanf() { return __int_as_float(0x7fc00000); }

// Is (va, ia) before (vb, ib) in np.argmax order: larger value first, NaN above everything,
// ties (and NaN against NaN) to the smaller row-major index.
__device__ __forceinline__ bool agma_argmax_before(float va, int ia, float vb, int ib)
{
    bool na = agma_isnan(va);
    bool nb = agma_isnan(vb);
    if (na || nb) {
        if (na && nb) return ia < ib;
        return na;
    }
    return va > vb || (va == vb && ia < ib);
}

// Smallest power of two >= n (n >= 1).
__device__ __forceinline__ unsigned int agma_pow2_ceil(unsigned int n)
{
    unsigned int p = 1u;
    while (p < n) p <<= 1;
    return p;
}

// Tap i of cv::getGaussianKernel(k, 0, CV_64F) for k <= 7: OpenCV's fixed tables.
__device__ __forceinline__ float agma_small_gaussian_tap(int k, int i)
{
    if (k == 1) return 1.0f;
    if (k == 3) return i == 1 ? 0.5f : 0.25f;
    if (k == 5) return i == 2 ? 0.375f : (i == 1 || i == 3) ? 0.25f : 0.0625f;
    // k == 7
    if (i == 3) return 0.28125f;
    if (i == 2 || i == 4) return 0.21875f;
    if (i == 1 || i == 5) return 0.109375f;
    return 0.03125f;
}

// The k taps of cv::getGaussianKernel(k, 0, CV_64F) into s_taps (float), in two phases with
// a barrier between them (the argmax's): OpenCV's fixed tables for k <= 7; otherwise
// exp(-x^2 / (2 sigma^2)) in double, one per thread 0..k-1, then normalised by their sum
// (added in tap order, as OpenCV does), sigma = 0.3 * ((k - 1) / 2 - 1) + 0.8.
__device__ __forceinline__ void agma_gaussian_taps_phase1(int k, double* s_dtaps, float* s_taps)
{
    const int t = (int)threadIdx.x;
    const int nt = (int)blockDim.x;
    if (k <= 7) {
        for (int i = t; i < k; i += nt) s_taps[i] = agma_small_gaussian_tap(k, i);
        return;
    }
    // No fused multiply-add anywhere (explicit _rn operations): the same bits on every target.
    const double sigma = __dadd_rn(__dmul_rn(__dsub_rn((k - 1) * 0.5, 1.0), 0.3), 0.8);
    const double scale2x = __ddiv_rn(-0.5, __dmul_rn(sigma, sigma));
    for (int i = t; i < k; i += nt) {
        const double x = __dsub_rn((double)i, (k - 1) * 0.5);
        s_dtaps[i] = exp(__dmul_rn(__dmul_rn(scale2x, x), x));
    }
}

// Phase 2 also leaves the normalised taps in double in s_dnorm.
__device__ __forceinline__ void agma_gaussian_taps_phase2(int k, const double* s_dtaps, double* s_dnorm,
                                                          float* s_taps)
{
    const int t = (int)threadIdx.x;
    const int nt = (int)blockDim.x;
    if (k <= 7) {
        for (int i = t; i < k; i += nt) s_dnorm[i] = (double)agma_small_gaussian_tap(k, i);
        return;
    }
    for (int i = t; i < k; i += nt) {
        double sum = 0.0;
        for (int j = 0; j < k; ++j) sum = __dadd_rn(sum, s_dtaps[j]);
        s_dnorm[i] = __dmul_rn(s_dtaps[i], __ddiv_rn(1.0, sum));
        s_taps[i] = (float)s_dnorm[i];
    }
}

// (x, y) heatmap px -> out[0..2] = (u, v, score) through affine a (row-major 2 x 3), in double.
__device__ __forceinline__ void agma_write_point(float* out, const double* a, float x, float y, float score)
{
    if (agma_isnan(x) || agma_isnan(y)) {
        out[0] = agma_nanf();
        out[1] = agma_nanf();
    } else {
        double xd = (double)x, yd = (double)y;
        out[0] = (float)__dadd_rn(__dadd_rn(__dmul_rn(a[0], xd), __dmul_rn(a[1], yd)), a[2]);
        out[1] = (float)__dadd_rn(__dadd_rn(__dmul_rn(a[3], xd), __dmul_rn(a[4], yd)), a[5]);
    }
    out[2] = score;
}

// ---- block-wide steps -------------------------------------------------------------------------

// Lanes of warp 0 that exist in a block of nt threads.
__device__ __forceinline__ unsigned int agma_warp0_mask(unsigned int nt)
{
    return nt >= 32u ? 0xffffffffu : ((1u << nt) - 1u);
}

// Tree reduction of the block's slots [0, blockDim.x) into slot 0: combine(dst, src) merges
// slot src into slot dst. Every thread calls it after writing its own slot. Levels with 32 or
// more pairs are separated by __syncthreads(), the last five run in warp 0 with __syncwarp().
// publish: end with a barrier so that every thread may read slot 0; otherwise only thread 0
// may (and the slots must not be written again before the caller's next barrier).
template <typename Combine>
__device__ __forceinline__ void agma_block_reduce(Combine combine, bool publish)
{
    const unsigned int t = threadIdx.x;
    const unsigned int nt = blockDim.x;
    __syncthreads();
    unsigned int s = agma_pow2_ceil(nt) >> 1;
    for (; s >= 32u; s >>= 1) {
        if (t < s && t + s < nt) combine(t, t + s);
        __syncthreads();
    }
    if (t < 32u) {
        const unsigned int mask = agma_warp0_mask(nt);
        for (; s > 0u; s >>= 1) {
            if (t < s && t + s < nt) combine(t, t + s);
            __syncwarp(mask);
        }
    }
    if (publish) __syncthreads();
}

// First maximum of map[0 .. n) in row-major order: strided, coalesced loads (thread t reads
// t, t + T, ...), each thread's first maximum into its slot of s_val / s_idx. Reduce with
// agma_argmax_combine.
template <typename T>
__device__ __forceinline__ void agma_argmax_local(const T* map, int n, float* s_val, int* s_idx)
{
    const int t = (int)threadIdx.x;
    const int nt = (int)blockDim.x;
    float bv = __int_as_float((int)0xff800000u);  // -inf
    int bi = 0x7fffffff;                          // after every real index
    for (int i = t; i < n; i += nt) {
        float v = agma_load(map, i);
        if (agma_argmax_before(v, i, bv, bi)) {
            bv = v;
            bi = i;
        }
    }
    s_val[t] = bv;
    s_idx[t] = bi;
}

struct AgmaArgmaxCombine {
    float* val;
    int* idx;
    __device__ __forceinline__ void operator()(unsigned int dst, unsigned int src) const
    {
        if (agma_argmax_before(val[src], idx[src], val[dst], idx[dst])) {
            val[dst] = val[src];
            idx[dst] = idx[src];
        }
    }
};

struct AgmaMax2Combine {  // two maxima at once (finite values; fmaxf)
    float* a;
    float* b;
    __device__ __forceinline__ void operator()(unsigned int dst, unsigned int src) const
    {
        a[dst] = fmaxf(a[dst], a[src]);
        b[dst] = fmaxf(b[dst], b[src]);
    }
};

struct AgmaMaxDoubleCombine {
    double* val;
    __device__ __forceinline__ void operator()(unsigned int dst, unsigned int src) const
    {
        val[dst] = fmax(val[dst], val[src]);
    }
};

// The 13 cells of the 5x5 neighbourhood, (dy + 2) * 5 + (dx + 2), that the Taylor step reads.
__device__ __forceinline__ bool agma_taylor_cell(int c)
{
    return c == 12 || c == 11 || c == 13 || c == 10 || c == 14 || c == 7 || c == 17 || c == 2 || c == 22 ||
           c == 6 || c == 8 || c == 16 || c == 18;
}

// ---- the two decoders ---------------------------------------------------------------------------

// DARK: blockIdx.x = view * n_joints + joint.
template <typename T>
__device__ void agma_decode_dark(const AgmaDecodeParams& p)
{
    AGMA_EXTERN_SHARED(double, agma_smem_d);  // declared double: 8-aligned for the double arrays
    float* agma_smem = (float*)agma_smem_d;
    const int nt = (int)blockDim.x;
    const int t = (int)threadIdx.x;
    const int h = p.height, w = p.width, n = h * w;
    const int k = p.blur_kernel, r = (k - 1) / 2;
    double* s_dtaps = (double*)agma_smem;  // [32] unnormalised taps (offset 0: 8-aligned)
    double* s_dnorm = s_dtaps + 32;        // [32] normalised taps
    double* s_drow = s_dnorm + 32;         // [(4 + k) x 5] row-blurred window, double
    double* s_samp = s_drow + 176;         // [25] blurred 5x5 around the maximum, double
    double* s_log = s_samp + 32;           // [25] their logs
    float* s_taps = (float*)(s_log + 32);  // [32] taps in float
    float* s_val = s_taps + 32;            // [nt] (AGMA_SHARED_REDUCE_OFFSET_WORDS)
    int* s_idx = (int*)(s_val + nt);       // [nt]
    double* s_dval = (double*)s_val;       // [nt] doubles over s_val + s_idx
    float* s_rows = s_val + 2 * nt;        // [n] row-blurred map, float

    const int map_index = (int)blockIdx.x;
    const int view = map_index / p.n_joints;
    const T* map = (const T*)p.heatmaps + (long long)map_index * n;
    float* out = (float*)p.out + (long long)map_index * AGMA_OUT_PER_JOINT;
    const double* aff = p.hm_to_img[view];

    // 1. Argmax of the raw map; the blur taps are computed on the way (they do not depend on
    //    the map; k is checked below, after the reduction, so the taps stay in bounds here).
    const bool k_ok = k >= 1 && k <= AGMA_MAX_BLUR_KERNEL && (k & 1) == 1;
    if (k_ok) agma_gaussian_taps_phase1(k, s_dtaps, s_taps);
    agma_argmax_local(map, n, s_val, s_idx);
    __syncthreads();
    if (k_ok) agma_gaussian_taps_phase2(k, s_dtaps, s_dnorm, s_taps);  // published by the reduction
    agma_block_reduce(AgmaArgmaxCombine{s_val, s_idx}, true);
    const float score = s_val[0];
    const int idx = s_idx[0];
    const int px = idx % w, py = idx / w;
    // (s_val / s_idx are next written after two more barriers: every thread has read them.)

    if (!(score > 0.0f) || !k_ok) {
        if (t == 0) agma_write_point(out, aff, agma_nanf(), agma_nanf(), score);
        return;  // uniform: every thread has the same score
    }
    if (!(px >= 2 && px <= w - 3 && py >= 2 && py <= h - 3)) {
        if (t == 0) agma_write_point(out, aff, (float)px, (float)py, score);
        return;  // no Taylor step: no blur needed
    }

    // 2. The 5x5 blurred samples in double, separable like OpenCV (rows, then columns), zero
    //    padding. Rows py-2-r .. py+2+r (zero outside the map), columns px-2 .. px+2 (inside:
    //    px is at least 2 from the border).
    const int win_rows = 4 + k;
    for (int i = t; i < win_rows * 5; i += nt) {
        const int wy = i / 5, wx = i - wy * 5;
        const int y = py - 2 - r + wy, x = px - 2 + wx;
        double acc = 0.0;
        if (y >= 0 && y < h) {
            const int x0 = x - r > 0 ? x - r : 0;
            const int x1 = x + r < w - 1 ? x + r : w - 1;
            for (int xx = x0; xx <= x1; ++xx) acc = fma(s_dnorm[xx - x + r], (double)agma_load(map, y * w + xx), acc);
        }
        s_drow[i] = acc;
    }
    __syncthreads();
    for (int c = t; c < 25; c += nt) {
        const int dy = c / 5, dx = c - dy * 5;  // rows py-2+dy, columns px-2+dx
        double v = 0.0;
        for (int i = 0; i < k; ++i) v = fma(s_dnorm[i], s_drow[(dy + i) * 5 + dx], v);
        s_samp[c] = v;
    }
    __syncthreads();
    bool fast = true;  // every Taylor sample >= 1e-9 (a NaN fails): uniform across the block
    for (int c = 0; c < 25; ++c) {
        if (agma_taylor_cell(c) && !(s_samp[c] >= 1e-9)) fast = false;
    }

    if (fast) {
        // 3a. No clamp possible; the rescale cancels: logs in double, one per thread.
        for (int c = t; c < 25; c += nt) s_log[c] = agma_taylor_cell(c) ? log(s_samp[c]) : 0.0;
        __syncthreads();
        if (t != 0) return;
    } else {
        // 3b. The reference's float32 path. The blurred map's maximum over the whole map:
        //     a float32 blur (rows into s_rows, then columns) gives f_i within delta of the
        //     double blur e_i, delta = 8 (k + 1) 2^-24 max|raw| (two fma chains of k taps
        //     with rounded taps; twice the first-order bound); every pixel that can hold the
        //     maximum has f_i >= max f - 2 delta, and those few are blurred again in double.
        float amax = 0.0f;
        for (int i = t; i < n; i += nt) {
            const int y = i / w, x = i - y * w;
            const int x0 = x - r > 0 ? x - r : 0;
            const int x1 = x + r < w - 1 ? x + r : w - 1;
            float acc = 0.0f;
            for (int xx = x0; xx <= x1; ++xx) acc = fmaf(s_taps[xx - x + r], agma_load(map, y * w + xx), acc);
            s_rows[i] = acc;
            amax = fmaxf(amax, fabsf(agma_load(map, i)));
        }
        __syncthreads();
        float fmax_local = __int_as_float((int)0xff800000u);
        for (int i = t; i < n; i += nt) {
            const int y = i / w, x = i - y * w;
            const int y0 = y - r > 0 ? y - r : 0;
            const int y1 = y + r < h - 1 ? y + r : h - 1;
            float acc = 0.0f;
            for (int yy = y0; yy <= y1; ++yy) acc = fmaf(s_taps[yy - y + r], s_rows[yy * w + x], acc);
            fmax_local = fmaxf(fmax_local, acc);
        }
        s_val[t] = fmax_local;
        ((float*)s_idx)[t] = amax;
        agma_block_reduce(AgmaMax2Combine{s_val, (float*)s_idx}, true);
        const float f_max = s_val[0];
        const float delta = (float)(8 * (k + 1)) * 5.9604645e-8f * ((float*)s_idx)[0];
        const float threshold = f_max - 2.0f * delta;
        __syncthreads();  // s_val / s_idx are rewritten below as doubles
        double e_max = -1.0 / 0.0;
        for (int i = t; i < n; i += nt) {
            const int y = i / w, x = i - y * w;
            const int y0 = y - r > 0 ? y - r : 0;
            const int y1 = y + r < h - 1 ? y + r : h - 1;
            float acc = 0.0f;
            for (int yy = y0; yy <= y1; ++yy) acc = fmaf(s_taps[yy - y + r], s_rows[yy * w + x], acc);
            if (acc >= threshold) {  // a candidate: its blur in double (rows, then columns)
                const int x0 = x - r > 0 ? x - r : 0;
                const int x1 = x + r < w - 1 ? x + r : w - 1;
                double e = 0.0;
                for (int yy = y0; yy <= y1; ++yy) {
                    double row = 0.0;
                    for (int xx = x0; xx <= x1; ++xx)
                        row = fma(s_dnorm[xx - x + r], (double)agma_load(map, yy * w + xx), row);
                    e = fma(s_dnorm[yy - y + r], row, e);
                }
                e_max = fmax(e_max, e);
            }
        }
        s_dval[t] = e_max;
        agma_block_reduce(AgmaMaxDoubleCombine{s_dval}, true);
        // Rescale (float32, as the reference's arrays), clamp at 1e-10 (NaN stays NaN, as
        // np.maximum), float32 log: correctly rounded, float(log(double)), so that GPU and host
        // agree (logf may be 1 ulp off on either; NumPy's own float32 log is up to 4 ulp off
        // and CPU-dependent).
        const float blur_max = (float)s_dval[0];
        const float scale = __fdiv_rn(score, blur_max);
        for (int c = t; c < 25; c += nt) {
            float v = __fmul_rn((float)s_samp[c], scale);
            if (!agma_isnan(v) && v < AGMA_LOG_FLOOR) v = AGMA_LOG_FLOOR;
            s_log[c] = agma_taylor_cell(c) ? (double)(float)log((double)v) : 0.0;
        }
        __syncthreads();
        if (t != 0) return;
    }

    // 4. One Newton step on the log samples, in double (thread 0).
    //    5x5 index (dy + 2) * 5 + (dx + 2); central differences.
    const double* L = s_log;
    const double dx = 0.5 * __dsub_rn(L[13], L[11]);
    const double dy = 0.5 * __dsub_rn(L[17], L[7]);
    const double dxx = 0.25 * __dadd_rn(__dsub_rn(L[14], 2.0 * L[12]), L[10]);
    const double dyy = 0.25 * __dadd_rn(__dsub_rn(L[22], 2.0 * L[12]), L[2]);
    const double dxy = 0.25 * __dadd_rn(__dsub_rn(__dsub_rn(L[18], L[8]), L[16]), L[6]);
    const double det = __dsub_rn(__dmul_rn(dxx, dyy), __dmul_rn(dxy, dxy));
    float x = (float)px, y = (float)py;
    if (det != 0.0) {  // NaN != 0: a NaN Hessian gives NaN, as the reference
        // -H^-1 D with H^-1 = [[dyy, -dxy], [-dxy, dxx]] / det
        const double ox = __ddiv_rn(__dsub_rn(__dmul_rn(dxy, dy), __dmul_rn(dyy, dx)), det);
        const double oy = __ddiv_rn(__dsub_rn(__dmul_rn(dxy, dx), __dmul_rn(dxx, dy)), det);
        x = (float)__dadd_rn((double)px, ox);
        y = (float)__dadd_rn((double)py, oy);
    }
    agma_write_point(out, aff, x, y, score);
}

// Standard (HRNet TEST.POST_PROCESS): blockIdx.x = view * n_joints + joint.
template <typename T>
__device__ void agma_decode_standard(const AgmaDecodeParams& p)
{
    AGMA_EXTERN_SHARED(double, agma_smem_d);  // declared double: 8-aligned for the double arrays
    float* agma_smem = (float*)agma_smem_d;
    const int nt = (int)blockDim.x;
    const int h = p.height, w = p.width, n = h * w;
    float* s_val = agma_smem + AGMA_SHARED_REDUCE_OFFSET_WORDS;  // [nt] (the DARK layout)
    int* s_idx = (int*)(s_val + nt);       // [nt]

    const int map_index = (int)blockIdx.x;
    const int view = map_index / p.n_joints;
    const T* map = (const T*)p.heatmaps + (long long)map_index * n;
    float* out = (float*)p.out + (long long)map_index * AGMA_OUT_PER_JOINT;
    const double* aff = p.hm_to_img[view];

    agma_argmax_local(map, n, s_val, s_idx);
    agma_block_reduce(AgmaArgmaxCombine{s_val, s_idx}, false);
    if (threadIdx.x != 0) return;
    const float score = s_val[0];
    const int idx = s_idx[0];
    if (!(score > 0.0f)) {
        agma_write_point(out, aff, agma_nanf(), agma_nanf(), score);
        return;
    }
    const int px = idx % w, py = idx / w;
    float x = (float)px, y = (float)py;
    if (px > 1 && px < w - 1 && py > 1 && py < h - 1) {
        const float gx = __fsub_rn(agma_load(map, idx + 1), agma_load(map, idx - 1));
        const float gy = __fsub_rn(agma_load(map, idx + w), agma_load(map, idx - w));
        if (gx > 0.0f) x += 0.25f; else if (gx < 0.0f) x -= 0.25f;
        if (gy > 0.0f) y += 0.25f; else if (gy < 0.0f) y -= 0.25f;
    }
    agma_write_point(out, aff, x, y, score);
}

#endif  // AGMA_DECODE_HEATMAPS_CUH
