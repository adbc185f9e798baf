// A host stand-in for the CUDA built-ins the decoder's device code uses, so that the *same*
// .cu source builds with g++ and runs on the CPU under its real launch configuration.
//
// - every CUDA thread of a block is one std::thread: blockDim.x * blockDim.y * blockDim.z of
//   them per launch, each with its own threadIdx (thread_local);
// - blocks run one after another (the same host threads play every block; a barrier between
//   blocks), so per-block state never overlaps;
// - __syncwarp(mask) is a real barrier of the calling thread's warp (32 consecutive threads);
// - __syncthreads() is a real barrier of all the block's threads (a futex barrier, Linux; one
//   that reports a divergent barrier, i.e. a deadlock, instead of hanging: after
//   AGMA_SHIM_BARRIER_TIMEOUT_S it prints where and aborts);
// - dynamic shared memory (extern __shared__) is one buffer of the launch's shared_bytes,
//   refilled with NaN bytes (0xff) before every block so that reading what a block did not
//   write shows, and followed by guard bytes checked after the launch;
// - the math built-ins are the C library's (fmaf is a correctly rounded fused multiply-add
//   as on the GPU; __fadd_rn and friends are plain IEEE operations: build with
//   -ffp-contract=off so that nothing is fused that the GPU would not fuse);
// - float16 loads use the integer conversion in decode_heatmaps.cuh (no __CUDA_ARCH__ here).
//
// Include this header, then the .cu file, in one translation unit (see decode_host.cpp).

#ifndef AGMA_CUDA_HOST_SHIM_H
#define AGMA_CUDA_HOST_SHIM_H

#include <atomic>
#include <chrono>
#include <climits>
#include <cmath>
#include <math.h>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <linux/futex.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#ifndef AGMA_SHIM_BARRIER_TIMEOUT_S
#define AGMA_SHIM_BARRIER_TIMEOUT_S 60
#endif

// ---- qualifiers ------------------------------------------------------------------------------
#define AGMA_HOST_SHIM 1
#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __launch_bounds__(...)
// Static __shared__ variables: one per program, which is per block because blocks run one at
// a time. (The decoder itself only uses dynamic shared memory.)
#define __shared__ static
#define AGMA_EXTERN_SHARED(type, name) type* name = reinterpret_cast<type*>(::agma_shim::dynamic_shared())

// ---- built-in variables --------------------------------------------------------------------
struct uint3 {
    unsigned int x, y, z;
};
struct dim3 {
    unsigned int x, y, z;
    constexpr dim3(unsigned int vx = 1, unsigned int vy = 1, unsigned int vz = 1) : x(vx), y(vy), z(vz) {}
};

static thread_local uint3 threadIdx;
static thread_local uint3 blockIdx;
static thread_local dim3 blockDim;
static thread_local dim3 gridDim;

namespace agma_shim {

// A reusable barrier for n threads, with a completion step run by the last arrival. Waiters
// sleep on a Linux futex (no mutex to re-acquire on wake-up: hundreds of threads on two cores
// pass it in well under a millisecond) with a timeout that turns a deadlock into a message.
class Barrier {
public:
    explicit Barrier(unsigned int n) : n_(n) {}

    void arrive_and_wait(const char* where, const std::function<void()>& on_complete = {})
    {
        const unsigned int gen = generation_.load(std::memory_order_acquire);
        if (arrived_.fetch_add(1, std::memory_order_acq_rel) + 1 == n_) {
            if (on_complete) on_complete();
            arrived_.store(0, std::memory_order_relaxed);
            generation_.fetch_add(1, std::memory_order_release);
            syscall(SYS_futex, reinterpret_cast<unsigned int*>(&generation_), FUTEX_WAKE_PRIVATE, INT_MAX,
                    nullptr, nullptr, 0);
            return;
        }
        const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(AGMA_SHIM_BARRIER_TIMEOUT_S);
        while (generation_.load(std::memory_order_acquire) == gen) {
            struct timespec ts = {1, 0};
            syscall(SYS_futex, reinterpret_cast<unsigned int*>(&generation_), FUTEX_WAIT_PRIVATE, gen, &ts,
                    nullptr, 0);
            if (generation_.load(std::memory_order_acquire) == gen && std::chrono::steady_clock::now() > deadline) {
                std::fprintf(stderr,
                             "agma host shim: %s: barrier timed out with %u of %u threads arrived "
                             "(a __syncthreads() that not every thread of the block reaches)\n",
                             where, arrived_.load(), n_);
                std::abort();
            }
        }
    }

private:
    static_assert(sizeof(std::atomic<unsigned int>) == sizeof(unsigned int), "futex word");
    std::atomic<unsigned int> generation_{0};
    std::atomic<unsigned int> arrived_{0};
    unsigned int n_;
};

struct Launch {
    Barrier* barrier = nullptr;
    std::vector<std::unique_ptr<Barrier>>* warps = nullptr;  // one per 32 consecutive threads
    unsigned int nthreads = 0;
    unsigned char* shared = nullptr;
};

static thread_local Launch* tl_launch = nullptr;
static thread_local unsigned int tl_linear_tid = 0;

inline void* dynamic_shared() { return tl_launch->shared; }

inline void syncthreads() { tl_launch->barrier->arrive_and_wait("__syncthreads()"); }

// __syncwarp(mask): a barrier of the calling thread's warp (threads 32w .. 32w + 31 of the
// block, in linear thread order). The shim supports the mask that names every lane of the
// warp that exists, and says so otherwise.
inline void syncwarp(unsigned int mask)
{
    const unsigned int warp = tl_linear_tid / 32u;
    const unsigned int lanes = tl_launch->nthreads - warp * 32u < 32u ? tl_launch->nthreads - warp * 32u : 32u;
    const unsigned int full = lanes == 32u ? 0xffffffffu : ((1u << lanes) - 1u);
    if (mask != full) {
        std::fprintf(stderr, "agma host shim: __syncwarp(0x%08x) in a warp of %u lanes: only the full mask 0x%08x "
                     "is supported\n", mask, lanes, full);
        std::abort();
    }
    (*tl_launch->warps)[warp]->arrive_and_wait("__syncwarp()");
}

constexpr std::size_t kGuardBytes = 256;
constexpr unsigned char kGuard = 0xa5;

// Run kernel(args...) over grid x block with shared_bytes of dynamic shared memory, honouring
// the launch configuration. Returns false (with a message) if the guard bytes after the
// dynamic shared memory were overwritten.
template <typename... KArgs, typename... Args>
bool launch(void (*kernel)(KArgs...), dim3 grid, dim3 block, std::size_t shared_bytes, std::string* error,
            Args&&... args)
{
    const unsigned int nthreads = block.x * block.y * block.z;
    const unsigned long long nblocks = (unsigned long long)grid.x * grid.y * grid.z;
    if (nthreads == 0 || nthreads > 1024) {
        if (error) *error = "block size must be 1..1024 threads";
        return false;
    }
    std::vector<unsigned char> shared(shared_bytes + kGuardBytes, kGuard);
    std::memset(shared.data(), 0xff, shared_bytes);
    Barrier barrier(nthreads);
    std::vector<std::unique_ptr<Barrier>> warps;
    for (unsigned int w0 = 0; w0 < nthreads; w0 += 32u)
        warps.emplace_back(new Barrier(nthreads - w0 < 32u ? nthreads - w0 : 32u));
    Launch launch_state{&barrier, &warps, nthreads, shared.data()};
    std::function<void()> next_block = [&]() { std::memset(shared.data(), 0xff, shared_bytes); };

    auto body = [&](unsigned int t) {
        tl_launch = &launch_state;
        tl_linear_tid = t;
        threadIdx = uint3{t % block.x, (t / block.x) % block.y, t / (block.x * block.y)};
        blockDim = block;
        gridDim = grid;
        for (unsigned long long b = 0; b < nblocks; ++b) {
            blockIdx = uint3{(unsigned int)(b % grid.x), (unsigned int)((b / grid.x) % grid.y),
                             (unsigned int)(b / ((unsigned long long)grid.x * grid.y))};
            kernel(args...);
            // End of the block: every thread has returned before the next block starts and
            // before its shared memory is poisoned again.
            barrier.arrive_and_wait("end of block", next_block);
        }
        tl_launch = nullptr;
    };
    std::vector<std::thread> threads;
    threads.reserve(nthreads);
    for (unsigned int t = 0; t < nthreads; ++t) threads.emplace_back(body, t);
    for (auto& th : threads) th.join();

    for (std::size_t i = 0; i < kGuardBytes; ++i) {
        if (shared[shared_bytes + i] != kGuard) {
            if (error) *error = "the kernel wrote past its dynamic shared memory (" + std::to_string(shared_bytes) + " bytes)";
            return false;
        }
    }
    return true;
}

}  // namespace agma_shim

// ---- built-in functions --------------------------------------------------------------------
inline void __syncthreads() { ::agma_shim::syncthreads(); }
inline void __syncwarp(unsigned int mask = 0xffffffffu) { ::agma_shim::syncwarp(mask); }

inline float __int_as_float(int i)
{
    float f;
    std::memcpy(&f, &i, sizeof f);
    return f;
}
inline int __float_as_int(float f)
{
    int i;
    std::memcpy(&i, &f, sizeof i);
    return i;
}

// IEEE round-to-nearest arithmetic without contraction (the _rn intrinsics never fuse).
inline float __fadd_rn(float a, float b) { return a + b; }
inline float __fsub_rn(float a, float b) { return a - b; }
inline float __fmul_rn(float a, float b) { return a * b; }
inline float __fdiv_rn(float a, float b) { return a / b; }
inline double __dadd_rn(double a, double b) { return a + b; }
inline double __dsub_rn(double a, double b) { return a - b; }
inline double __dmul_rn(double a, double b) { return a * b; }
inline double __ddiv_rn(double a, double b) { return a / b; }

// exp, expf, logf, fmaf, fmaxf, fminf: the C library's, from <math.h> (global namespace, as
// CUDA's device math functions are).

#endif  // AGMA_CUDA_HOST_SHIM_H
