// Preprocessing on the GPU: each view's affine crop to the network input, BGR -> RGB, /255,
// mean/std, HWC -> CHW, written straight into the engine's float32 input batch.
//
// Device code only, like decode_heatmaps.cuh: it compiles with nvcc and NVRTC 12.2 without a
// host header, and through host/cuda_host_shim.h with g++ (the host check, CI).
//
// It reproduces appliance.pose.preprocess.Preprocessor.batch, that is per output image
//     crop.warp(image)   = cv2.warpAffine(image, image_to_input, (W, H), INTER_LINEAR, BORDER_CONSTANT, 0)
//     normalise_into     = u8 * scale[c] + offset[c] (two float32 roundings, as NumPy does)
// and for the flip test out[n:] = out[:n, :, :, ::-1] (a mirrored output reads column W - 1 - x).
//
// The warp is OpenCV's own arithmetic (opencv-python 5.1, x86-64: checked bit for bit by
// tests/pose/test_cuda_preprocess_host.py against cv2 on crops inside and across the image's
// edges), so the network sees the same uint8 crop on the box as in every test here:
//   - M is the inverse (input px -> image px) in float64, as cv2 inverts image_to_input;
//   - per output pixel, in float64 without fusion: sx = (x * M0 + y * M1) + M2, sy likewise;
//     ix = floor(sx), alpha = float(sx - ix) (and iy, beta);
//   - a pixel with ix + 1 outside [0, cols] or iy + 1 outside [0, rows] is the border (0);
//     otherwise each of the four neighbours outside the image is 0;
//   - per channel, float32 with fused multiply-adds: v0 = fma(alpha, p01 - p00, p00),
//     v1 = fma(alpha, p11 - p10, p10), v = fma(beta, v1 - v0, v0); round half to even, clamp
//     to 0..255.
// Where they may still differ: OpenCV's arithmetic is its build's (an aarch64 build may take a
// float16 NEON path for 8-bit images); this kernel is the same on every GPU.
//
// Launch (appliance/pose/cuda/build.py, preprocess_launch_config): one thread per output pixel,
// grid = (ceil(W * H / threads), n_out, 1), block = (threads, 1, 1), no shared memory, no
// barrier. Sources are HWC uint8 BGR with a row stride in bytes; the output is n_out x 3 x H x W
// float32.

#ifndef AGMA_PREPROCESS_CUH
#define AGMA_PREPROCESS_CUH

#define AGMA_PRE_MAX_OUT 8

// One kernel parameter, by value: 8 * 8 + 8 + 8 * 6 * 8 + 6 * 4 + 8 * 4 + 8 * 4 = 544 bytes,
// 8-aligned. appliance/pose/cuda/build.py packs it as "<8QQ48d6f8i8i" (PRE_PARAMS_FORMAT).
struct AgmaPreprocessParams {
    unsigned long long src[AGMA_PRE_MAX_OUT];  // per output image: its source view, uint8 BGR HWC
    unsigned long long out;                    // n_out x 3 x out_height x out_width float32
    double input_to_image[AGMA_PRE_MAX_OUT][6];  // per output: [m00 m01 m02 m10 m11 m12], input px -> image px
    float scale[3];                            // per output channel (R, G, B): u8 * scale + offset
    float offset[3];
    int mirror[AGMA_PRE_MAX_OUT];              // 1: this output is its crop mirrored left-right
    int n_out;                                 // outputs in this launch, gridDim.y
    int out_width;
    int out_height;
    int src_width;                             // every source has this size and stride
    int src_height;
    int src_stride;                            // bytes per source row (>= 3 * src_width)
    int reserved[2];
};
static_assert(sizeof(AgmaPreprocessParams) == 544, "AgmaPreprocessParams layout changed: update cuda/build.py");

__device__ __forceinline__ float agma_pre_pixel(const unsigned char* src, int stride, int cols, int rows, int x,
                                                int y, int c)
{
    if ((unsigned)x < (unsigned)cols && (unsigned)y < (unsigned)rows)
        return (float)src[(long long)y * stride + 3LL * x + c];
    return 0.0f;
}

__device__ __forceinline__ void agma_preprocess_bgr8(const AgmaPreprocessParams& p)
{
    const int view = (int)blockIdx.y;
    const long long n_px = (long long)p.out_width * p.out_height;
    const long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (view >= p.n_out || i >= n_px) return;
    const int y = (int)(i / p.out_width);
    const int x_out = (int)(i % p.out_width);
    const int x = p.mirror[view] ? p.out_width - 1 - x_out : x_out;  // the mirror reads its crop's column
    const double* m = p.input_to_image[view];
    const double sx = __dadd_rn(__dadd_rn(__dmul_rn((double)x, m[0]), __dmul_rn((double)y, m[1])), m[2]);
    const double sy = __dadd_rn(__dadd_rn(__dmul_rn((double)x, m[3]), __dmul_rn((double)y, m[4])), m[5]);
    float* out = reinterpret_cast<float*>(p.out) + (long long)view * 3 * n_px + i;
    const int cols = p.src_width, rows = p.src_height;
    // Far outside (or not a number): the border. floor() of a huge value is not an int.
    const bool inside_range = sx > -2.0 && sx < cols + 1.0 && sy > -2.0 && sy < rows + 1.0;
    const int ix = inside_range ? (int)floor(sx) : -2;
    const int iy = inside_range ? (int)floor(sy) : -2;
    if ((unsigned)(ix + 1) >= (unsigned)(cols + 1) || (unsigned)(iy + 1) >= (unsigned)(rows + 1)) {
        for (int c = 0; c < 3; ++c) out[c * n_px] = __fadd_rn(__fmul_rn(0.0f, p.scale[c]), p.offset[c]);
        return;
    }
    const float alpha = (float)(sx - ix), beta = (float)(sy - iy);
    const unsigned char* src = reinterpret_cast<const unsigned char*>(p.src[view]);
    for (int c = 0; c < 3; ++c) {  // output channel c (R, G, B) reads BGR channel 2 - c
        const int k = 2 - c;
        const float p00 = agma_pre_pixel(src, p.src_stride, cols, rows, ix, iy, k);
        const float p01 = agma_pre_pixel(src, p.src_stride, cols, rows, ix + 1, iy, k);
        const float p10 = agma_pre_pixel(src, p.src_stride, cols, rows, ix, iy + 1, k);
        const float p11 = agma_pre_pixel(src, p.src_stride, cols, rows, ix + 1, iy + 1, k);
        const float v0 = fmaf(alpha, __fsub_rn(p01, p00), p00);
        const float v1 = fmaf(alpha, __fsub_rn(p11, p10), p10);
        const float v = fmaf(beta, __fsub_rn(v1, v0), v0);
        float r = rintf(v);  // round half to even, as cvRound
        r = r < 0.0f ? 0.0f : (r > 255.0f ? 255.0f : r);
        out[c * n_px] = __fadd_rn(__fmul_rn(r, p.scale[c]), p.offset[c]);
    }
}

#endif  // AGMA_PREPROCESS_CUH
