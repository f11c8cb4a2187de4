#pragma once
// Shared pieces of the low-bit kernels (int8.hpp, int4.hpp, binary.hpp): the ISA-extension
// tag that keeps instantiations apart per flag set, aligned buffers, fp16 group scales,
// horizontal sums and popcounts with a scalar fallback.
//
// The ODR trap, once more: xsimd 8.1 knows no VNNI or VPOPCNTDQ, so the default arch is
// `avx512bw` both with and without those extensions. Every low-bit kernel therefore takes,
// after `class Arch = xsimd::default_arch`, a second defaulted parameter
// `class Ext = lowbit_ext_default` that encodes the extension macros of the translation unit;
// two TUs compiled with different flags instantiate different specializations.

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <type_traits>
#include <vector>

#include <xsimd/xsimd.hpp>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define COMPRESS_X86 1
#endif

#include "../core/arch.hpp"
#include "../core/half.hpp"

#if defined(__AVX512VNNI__) && defined(__AVX512BW__)
#define COMPRESS_HAS_VNNI512 1
#else
#define COMPRESS_HAS_VNNI512 0
#endif
#if defined(__AVXVNNI__) && defined(__AVX2__)
#define COMPRESS_HAS_AVXVNNI 1
#else
#define COMPRESS_HAS_AVXVNNI 0
#endif
#if defined(__AVX512VPOPCNTDQ__) && defined(__AVX512BW__)
#define COMPRESS_HAS_VPOPCNTDQ 1
#else
#define COMPRESS_HAS_VPOPCNTDQ 0
#endif
#if defined(__AVX512BF16__) && defined(__AVX512BW__)
#define COMPRESS_HAS_BF16512 1
#else
#define COMPRESS_HAS_BF16512 0
#endif

// Fully unrolls a 4- (8-) iteration loop over rows, so that arrays of vector accumulators indexed by
// the row live in registers (g++ otherwise keeps them on the stack: a load and a store per FMA).
#if defined(__GNUC__) && !defined(__clang__)
#define COMPRESS_UNROLL4 _Pragma("GCC unroll 4")
#define COMPRESS_UNROLL8 _Pragma("GCC unroll 8")
#elif defined(__clang__)
#define COMPRESS_UNROLL4 _Pragma("unroll 4")
#define COMPRESS_UNROLL8 _Pragma("unroll 8")
#else
#define COMPRESS_UNROLL4
#define COMPRESS_UNROLL8
#endif

#if defined(COMPRESS_USE_OPENMP) && defined(_OPENMP)
#include <omp.h>
#define COMPRESS_OMP_FOR _Pragma("omp parallel for schedule(static)")
#else
#define COMPRESS_OMP_FOR
#endif

namespace compress::detail {

/// The extensions a translation unit was compiled with, beyond what xsimd's arch names say.
/// Bf16512: AVX512_BF16 (`vdpbf16ps`), used by the int4 weight-only GEMV (kernels/int4.hpp).
template <bool Vnni512, bool AvxVnni, bool Vpopcntdq, bool Bf16512 = false>
struct lowbit_ext {
    static constexpr bool vnni512 = Vnni512;
    static constexpr bool avxvnni = AvxVnni;
    static constexpr bool vpopcntdq = Vpopcntdq;
    static constexpr bool bf16512 = Bf16512;
};
using lowbit_ext_default = lowbit_ext<COMPRESS_HAS_VNNI512 != 0, COMPRESS_HAS_AVXVNNI != 0, COMPRESS_HAS_VPOPCNTDQ != 0,
                                      COMPRESS_HAS_BF16512 != 0>;
/// No extension: what the scalar path and the tests' "without VNNI" runs use.
using lowbit_ext_none = lowbit_ext<false, false, false>;

template <class T, std::size_t Align = 64>
using aligned_vector = std::vector<T, xsimd::aligned_allocator<T, Align>>;

constexpr std::size_t round_up(std::size_t x, std::size_t m) noexcept { return (x + m - 1) / m * m; }
constexpr std::size_t div_up(std::size_t x, std::size_t m) noexcept { return (x + m - 1) / m; }

/// Which instruction family a kernel instantiated for Arch (and Ext) uses.
enum class int_path { scalar, sse2, avx2, avxvnni, avx512bw, vnni512 };

template <class Arch>
inline constexpr bool is_avx512bw_v = std::is_base_of_v<xsimd::avx512bw, Arch>;
template <class Arch>
inline constexpr bool is_avx2_v = std::is_base_of_v<xsimd::avx2, Arch>;

template <class Arch, class Ext>
constexpr int_path int8_path() noexcept {
    if constexpr (is_scalar_arch_v<Arch>) {
        return int_path::scalar;
    } else {
#if defined(COMPRESS_X86)
        if constexpr (is_avx512bw_v<Arch>) {
            return Ext::vnni512 ? int_path::vnni512 : int_path::avx512bw;
        } else if constexpr (is_avx2_v<Arch>) {
            return Ext::avxvnni ? int_path::avxvnni : int_path::avx2;
        } else {
            return int_path::scalar;
        }
#else
        return int_path::scalar;
#endif
    }
}

inline const char* int_path_name(int_path p) noexcept {
    switch (p) {
        case int_path::scalar: return "scalar";
        case int_path::sse2: return "sse2";
        case int_path::avx2: return "avx2";
        case int_path::avxvnni: return "avx-vnni";
        case int_path::avx512bw: return "avx512bw";
        case int_path::vnni512: return "avx512-vnni";
    }
    return "?";
}

/// A group scale read as float, whether stored as float or as fp16 bits (core/half.hpp's
/// exact converter: the one fp16 decoder of the library).
template <class S>
inline float scale_at(const S* s, std::size_t i) noexcept {
    if constexpr (std::is_same_v<S, std::uint16_t>) {
        return fp16_to_float(s[i]);
    } else {
        static_assert(std::is_same_v<S, float>, "group scales are float or fp16 bits (std::uint16_t)");
        return s[i];
    }
}

/// n consecutive scales s[i .. i+n) as floats into out. fp16 scales use the F16C batch
/// conversion (8 per vcvtph2ps: bit-identical to fp16_to_float, except that a signalling
/// NaN comes out quiet) when the build has it.
template <class S>
inline void scales_to_float(const S* s, std::size_t i, std::size_t n, float* out) noexcept {
    if constexpr (std::is_same_v<S, std::uint16_t>) {
        std::size_t j = 0;
#if defined(COMPRESS_X86) && defined(__F16C__) && defined(__AVX__)
        for (; j + 8 <= n; j += 8)
            _mm256_storeu_ps(out + j, _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(s + i + j))));
#endif
        for (; j < n; ++j) out[j] = fp16_to_float(s[i + j]);
    } else {
        static_assert(std::is_same_v<S, float>, "group scales are float or fp16 bits (std::uint16_t)");
        std::memcpy(out, s + i, n * sizeof(float));
    }
}

inline int popcount64(std::uint64_t v) noexcept {
#if defined(__GNUC__)
    return __builtin_popcountll(v);
#else
    v = v - ((v >> 1) & 0x5555555555555555ull);
    v = (v & 0x3333333333333333ull) + ((v >> 2) & 0x3333333333333333ull);
    v = (v + (v >> 4)) & 0x0F0F0F0F0F0F0F0Full;
    return static_cast<int>((v * 0x0101010101010101ull) >> 56);
#endif
}

/// Wrapping int32 arithmetic for the scalar paths (the SIMD paths wrap too, so results agree
/// even past the int32 range; signed overflow would be undefined in C++).
inline std::int32_t wrap_add(std::int32_t a, std::int32_t b) noexcept {
    return static_cast<std::int32_t>(static_cast<std::uint32_t>(a) + static_cast<std::uint32_t>(b));
}
inline std::int32_t wrap_mul(std::int32_t a, std::int32_t b) noexcept {
    return static_cast<std::int32_t>(static_cast<std::uint32_t>(a) * static_cast<std::uint32_t>(b));
}

#if defined(COMPRESS_X86)
#if defined(__AVX512F__)
inline float hsum512(__m512 v) noexcept { return _mm512_reduce_add_ps(v); }
#endif
#if defined(__AVX__)
inline float hsum256(__m256 v) noexcept {
    __m128 lo = _mm256_castps256_ps128(v);
    __m128 hi = _mm256_extractf128_ps(v, 1);
    lo = _mm_add_ps(lo, hi);
    __m128 sh = _mm_movehdup_ps(lo);
    lo = _mm_add_ps(lo, sh);
    sh = _mm_movehl_ps(sh, lo);
    lo = _mm_add_ss(lo, sh);
    return _mm_cvtss_f32(lo);
}
#endif
#endif

}  // namespace compress::detail
