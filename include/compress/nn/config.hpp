#pragma once
// Internal configuration of the training substrate (nn/): the ABI namespace that keeps
// translation units compiled with different -m flags apart, and the thread helpers.
//
// The nn classes are ordinary (non-template) classes with inline member functions that call
// the SIMD kernels with xsimd's default architecture. Compiled in two translation units with
// different target flags, such an inline function would be one symbol and the linker would keep
// one body (the ODR trap of DESIGN.md): a baseline translation unit could run AVX-512 code.
// Everything in compress::nn therefore lives in an inline namespace named after the target
// flags, so every flag set gets its own symbols. Users never write this namespace.

#include <cstddef>

#if defined(COMPRESS_USE_OPENMP) && COMPRESS_USE_OPENMP
#include <omp.h>
#define COMPRESS_NN_OPENMP 1
#else
#define COMPRESS_NN_OPENMP 0
#endif

// Mirrors xsimd 8.1's choice of default_arch (best architecture enabled by the flags).
#if defined(__AVX512BW__)
#define COMPRESS_NN_ABI abi_avx512bw
#elif defined(__AVX512DQ__)
#define COMPRESS_NN_ABI abi_avx512dq
#elif defined(__AVX512CD__)
#define COMPRESS_NN_ABI abi_avx512cd
#elif defined(__AVX512F__)
#define COMPRESS_NN_ABI abi_avx512f
#elif defined(__AVX2__) && defined(__FMA__)
#define COMPRESS_NN_ABI abi_fma3_avx2
#elif defined(__AVX2__)
#define COMPRESS_NN_ABI abi_avx2
#elif defined(__AVX__) && defined(__FMA__)
#define COMPRESS_NN_ABI abi_fma3_avx
#elif defined(__AVX__)
#define COMPRESS_NN_ABI abi_avx
#elif defined(__SSE4_2__) && defined(__FMA__)
#define COMPRESS_NN_ABI abi_fma3_sse42
#elif defined(__SSE4_2__)
#define COMPRESS_NN_ABI abi_sse42
#elif defined(__SSE4_1__)
#define COMPRESS_NN_ABI abi_sse41
#elif defined(__SSSE3__)
#define COMPRESS_NN_ABI abi_ssse3
#elif defined(__SSE3__)
#define COMPRESS_NN_ABI abi_sse3
#elif defined(__SSE2__)
#define COMPRESS_NN_ABI abi_sse2
#elif defined(__aarch64__)
#define COMPRESS_NN_ABI abi_neon64
#elif defined(__ARM_NEON)
#define COMPRESS_NN_ABI abi_neon
#else
#define COMPRESS_NN_ABI abi_generic
#endif

namespace compress::nn {
inline namespace COMPRESS_NN_ABI {
namespace detail {

/// Threads the nn loops may use: OpenMP's team size when built with COMPRESS_USE_OPENMP
/// (and not already inside a parallel region), else 1.
inline int max_threads() noexcept {
#if COMPRESS_NN_OPENMP
    return omp_in_parallel() ? 1 : omp_get_max_threads();
#else
    return 1;
#endif
}

}  // namespace detail
}  // namespace COMPRESS_NN_ABI
}  // namespace compress::nn
