#pragma once
// Small building blocks shared by the xsimd kernels: compile-time unrolling, per-arch register
// counts, 64-byte aligned scratch buffers that are reused between calls, OpenMP helpers.

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <new>
#include <type_traits>
#include <utility>

#include <xsimd/xsimd.hpp>

#include "../core/arch.hpp"

#if defined(COMPRESS_USE_OPENMP)
#include <omp.h>
#endif

#if defined(__GNUC__) || defined(__clang__)
#define COMPRESS_ALWAYS_INLINE inline __attribute__((always_inline))
#define COMPRESS_RESTRICT __restrict__
#else
#define COMPRESS_ALWAYS_INLINE inline
#define COMPRESS_RESTRICT
#endif

namespace compress::detail {

template <class F, std::size_t... I>
COMPRESS_ALWAYS_INLINE void unroll_impl(F& f, std::index_sequence<I...>) {
    (f(std::integral_constant<std::size_t, I>{}), ...);
}

/// Calls f(integral_constant<size_t, 0>) ... f(integral_constant<size_t, N-1>), fully unrolled.
template <std::size_t N, class F>
COMPRESS_ALWAYS_INLINE void unroll(F&& f) {
    unroll_impl(f, std::make_index_sequence<N>{});
}

/// A one-lane stand-in for xsimd::batch<float, Arch> on compress::scalar_arch, so that kernels
/// can be written once over `vec_t<Arch>`.
struct scalar_float_vec {
    static constexpr std::size_t size = 1;
    float v;
    scalar_float_vec() = default;
    explicit scalar_float_vec(float x) : v(x) {}
    static scalar_float_vec load_aligned(const float* p) { return scalar_float_vec(*p); }
    static scalar_float_vec load_unaligned(const float* p) { return scalar_float_vec(*p); }
    void store_aligned(float* p) const { *p = v; }
    void store_unaligned(float* p) const { *p = v; }
    friend scalar_float_vec operator+(scalar_float_vec a, scalar_float_vec b) { return scalar_float_vec(a.v + b.v); }
    friend scalar_float_vec operator*(scalar_float_vec a, scalar_float_vec b) { return scalar_float_vec(a.v * b.v); }
};

template <class Arch, class = void>
struct vec_of {
    using type = xsimd::batch<float, Arch>;
};
template <class Arch>
struct vec_of<Arch, std::enable_if_t<is_scalar_arch_v<Arch>>> {
    using type = scalar_float_vec;
};
/// xsimd::batch<float, Arch>, or scalar_float_vec for scalar_arch.
template <class Arch>
using vec_t = typename vec_of<Arch>::type;

/// a * b + c (a fused FMA where the architecture has one).
template <class V>
COMPRESS_ALWAYS_INLINE V vfma(const V& a, const V& b, const V& c) {
    if constexpr (std::is_same_v<V, scalar_float_vec>) {
        return scalar_float_vec(a.v * b.v + c.v);
    } else {
        return xsimd::fma(a, b, c);
    }
}

/// Number of SIMD registers of an xsimd architecture (x86: 32 with AVX-512, else 16).
template <class Arch>
constexpr std::size_t simd_registers() noexcept {
    if constexpr (std::is_base_of_v<xsimd::avx512f, Arch>) {
        return 32;
    } else {
        return 16;
    }
}

/// float lanes of a vector of Arch (1 for scalar_arch).
template <class Arch>
constexpr std::size_t float_lanes() noexcept {
    if constexpr (is_scalar_arch_v<Arch>) {
        return 1;
    } else {
        return xsimd::batch<float, Arch>::size;
    }
}

struct aligned_free {
    void operator()(void* p) const noexcept { ::operator delete(p, std::align_val_t{64}); }
};

/// A growable 64-byte aligned buffer. Kernels keep one per thread (thread_local) so that large
/// packing buffers are not mapped and faulted in again on every call.
template <class T>
class scratch {
    static_assert(std::is_trivially_copyable_v<T>, "scratch<T> holds trivially copyable values only");

public:
    T* get(std::size_t n) {
        if (n > cap_) {
            // Grow geometrically; round up to whole cache lines.
            std::size_t want = n > 2 * cap_ ? n : 2 * cap_;
            want = (want * sizeof(T) + 63) / 64 * 64 / sizeof(T) + 1;
            ptr_.reset(static_cast<T*>(::operator new(want * sizeof(T), std::align_val_t{64})));
            cap_ = want;
        }
        return ptr_.get();
    }

private:
    std::unique_ptr<T, aligned_free> ptr_;
    std::size_t cap_ = 0;
};

/// Per-thread scratch slot `Slot` of element type T (distinct slots never alias).
template <class T, int Slot>
T* thread_scratch(std::size_t n) {
    thread_local scratch<T> s;
    return s.get(n);
}

/// Threads the kernels may use: 1 without COMPRESS_USE_OPENMP or inside a parallel region.
inline int kernel_threads() noexcept {
#if defined(COMPRESS_USE_OPENMP)
    if (omp_in_parallel()) return 1;
    return omp_get_max_threads();
#else
    return 1;
#endif
}

/// Runs f(begin, end) on `parts` contiguous ranges of [0, n) in `chunk` units, in parallel
/// when OpenMP is enabled. Each index is handled by exactly one call, and the split never
/// changes what a single index computes, so results do not depend on the thread count.
template <class F>
void parallel_ranges(std::size_t n, std::size_t chunk, F&& f) {
    if (n == 0) return;
    const std::size_t units = (n + chunk - 1) / chunk;
    std::size_t parts = static_cast<std::size_t>(kernel_threads());
    if (parts > units) parts = units;
    if (parts <= 1) {
        f(std::size_t{0}, n);
        return;
    }
#if defined(COMPRESS_USE_OPENMP)
#pragma omp parallel for num_threads(static_cast<int>(parts)) schedule(static, 1)
    for (std::ptrdiff_t p = 0; p < static_cast<std::ptrdiff_t>(parts); ++p) {
        const std::size_t u0 = units * static_cast<std::size_t>(p) / parts;
        const std::size_t u1 = units * (static_cast<std::size_t>(p) + 1) / parts;
        const std::size_t b = u0 * chunk, e = u1 * chunk < n ? u1 * chunk : n;
        if (b < e) f(b, e);
    }
#else
    f(std::size_t{0}, n);
#endif
}

}  // namespace compress::detail
