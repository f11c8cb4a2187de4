#pragma once
// Shared pieces of the low-bit kernels (int8.hpp, int4.hpp, binary.hpp): the ISA-extension
// tag that keeps instantiations apart per flag set, aligned buffers, fp16 conversion,
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

#if defined(COMPRESS_USE_OPENMP) && defined(_OPENMP)
#include <omp.h>
#define COMPRESS_OMP_FOR _Pragma("omp parallel for schedule(static)")
#else
#define COMPRESS_OMP_FOR
#endif

namespace compress::detail {

/// The extensions a translation unit was compiled with, beyond what xsimd's arch names say.
template <bool Vnni512, bool AvxVnni, bool Vpopcntdq>
struct lowbit_ext {
    static constexpr bool vnni512 = Vnni512;
    static constexpr bool avxvnni = AvxVnni;
    static constexpr bool vpopcntdq = Vpopcntdq;
};
using lowbit_ext_default = lowbit_ext<COMPRESS_HAS_VNNI512 != 0, COMPRESS_HAS_AVXVNNI != 0, COMPRESS_HAS_VPOPCNTDQ != 0>;
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

/// IEEE binary16 bits → float (exact; handles subnormals, Inf, NaN).
inline float half_to_float(std::uint16_t h) noexcept {
    const std::uint32_t sign = static_cast<std::uint32_t>(h & 0x8000u) << 16;
    std::uint32_t exp = (h >> 10) & 0x1Fu;
    std::uint32_t man = h & 0x3FFu;
    std::uint32_t bits;
    if (exp == 0) {
        if (man == 0) {
            bits = sign;
        } else {  // subnormal: normalize
            int e = -1;
            do { ++e; man <<= 1; } while ((man & 0x400u) == 0);
            bits = sign | (static_cast<std::uint32_t>(127 - 15 - e) << 23) | ((man & 0x3FFu) << 13);
        }
    } else if (exp == 0x1F) {
        bits = sign | 0x7F800000u | (man << 13);
    } else {
        bits = sign | ((exp + 127 - 15) << 23) | (man << 13);
    }
    float f;
    std::memcpy(&f, &bits, sizeof f);
    return f;
}

/// float → IEEE binary16 bits, round to nearest even (overflow → Inf).
inline std::uint16_t float_to_half(float f) noexcept {
    std::uint32_t x;
    std::memcpy(&x, &f, sizeof x);
    const std::uint32_t sign = (x >> 16) & 0x8000u;
    const std::uint32_t ax = x & 0x7FFFFFFFu;
    if (ax >= 0x7F800000u) return static_cast<std::uint16_t>(sign | 0x7C00u | (ax > 0x7F800000u ? 0x200u : 0u));
    if (ax >= 0x477FF000u) return static_cast<std::uint16_t>(sign | 0x7C00u);  // rounds to >= 65520
    if (ax < 0x38800000u) {                                                     // subnormal or zero
        if (ax < 0x33000000u) return static_cast<std::uint16_t>(sign);
        const std::uint32_t e = ax >> 23;
        const std::uint32_t m = (ax & 0x7FFFFFu) | 0x800000u;
        const std::uint32_t shift = 126 - e;  // 14 + (113 - e) - ... : m >> (shift) gives the half mantissa
        std::uint32_t r = m >> shift;
        const std::uint32_t rem = m & ((1u << shift) - 1);
        const std::uint32_t half = 1u << (shift - 1);
        if (rem > half || (rem == half && (r & 1u))) ++r;
        return static_cast<std::uint16_t>(sign | r);
    }
    std::uint32_t r = ((ax - 0x38000000u) >> 13);
    const std::uint32_t rem = ax & 0x1FFFu;
    if (rem > 0x1000u || (rem == 0x1000u && (r & 1u))) ++r;
    return static_cast<std::uint16_t>(sign | r);
}

/// A group scale read as float, whether stored as float or as fp16 bits.
template <class S>
inline float scale_at(const S* s, std::size_t i) noexcept {
    if constexpr (std::is_same_v<S, std::uint16_t>) {
#if defined(COMPRESS_X86) && defined(__F16C__)
        return _cvtsh_ss(s[i]);  // exact, like half_to_float
#else
        return half_to_float(s[i]);
#endif
    } else {
        static_assert(std::is_same_v<S, float>, "group scales are float or fp16 bits (std::uint16_t)");
        return s[i];
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
