#pragma once
// Bit-exact scalar converters between float and the 16- and 8-bit floating-point formats:
// IEEE fp16 (binary16), bfloat16, and the two OCP 8-bit formats fp8 e4m3fn and e5m2.
//
// Every float -> narrow conversion rounds to nearest, ties to even (on the value, with
// gradual underflow to the target's subnormals), independently of the FPU rounding mode:
// the rounding is done on the integer bits.
//
// Out-of-range magnitudes (after rounding):
//   fp16, bf16      -> ±Inf (IEEE behaviour, what F16C / PyTorch's .half() / .bfloat16() do),
//                      or ±max finite (65504 / 3.3895e38) when `saturate` is true.
//   fp8 e4m3fn      -> ±448 when `saturate` (the default, OCP "satfinite"), else NaN (0x7F|sign;
//                      e4m3fn has no infinity).
//   fp8 e5m2        -> ±57344 when `saturate` (the default), else ±Inf.
// Inf inputs follow the same rule (saturated or kept/NaN); NaN inputs give a quiet NaN of
// the target format with the sign kept.
//
// Decoding (narrow -> float) is exact: every value of these formats is a float.

#include <cstdint>
#include <cstring>

namespace compress::detail {

inline std::uint32_t float_to_bits(float f) noexcept {
    std::uint32_t u;
    std::memcpy(&u, &f, sizeof u);
    return u;
}

inline float bits_to_float(std::uint32_t u) noexcept {
    float f;
    std::memcpy(&f, &u, sizeof f);
    return f;
}

/// A binary floating-point format with E exponent bits, M mantissa bits and bias B,
/// plus how its top exponent is used.
template <int E, int M, int B>
struct minifloat_traits {
    static constexpr int exp_bits = E;
    static constexpr int man_bits = M;
    static constexpr int bias = B;
    static constexpr int emin = 1 - B;  // exponent of the smallest normal number
};

/// Rounds the magnitude bits `a` of a finite float (sign cleared) to the target format,
/// ties to even. Returns the target encoding of the magnitude (exponent|mantissa), which may
/// exceed the largest finite encoding: the caller decides about overflow. Exponents beyond
/// the field are represented by a larger integer (no wrap for the formats used here).
template <int M, int EMIN, int BIAS>
inline std::uint32_t round_magnitude(std::uint32_t a) noexcept {
    const int fexp = static_cast<int>(a >> 23);  // biased float exponent, 0 for subnormals
    std::uint32_t sig = a & 0x7FFFFFu;
    int e;  // unbiased exponent of the leading bit position 23 of `sig`
    if (fexp == 0) {
        e = -126;  // float subnormal: value = sig * 2^(-126-23)
    } else {
        sig |= 0x800000u;
        e = fexp - 127;
    }
    if (sig == 0) return 0;
    const bool target_subnormal = (fexp == 0) || (e < EMIN);
    if (target_subnormal) {
        // value = sig * 2^(e-23); subnormal unit of the target = 2^(EMIN-M).
        const int sh = 23 + EMIN - M - e;  // >= 1 here, or 0 when float-subnormal and EMIN == -126 with M == 23
        if (sh <= 0) return sig;  // not reached for the formats used here
        if (sh >= 26) return 0;   // below half the smallest subnormal
        const std::uint32_t q = sig >> sh;
        const std::uint32_t rem = sig & ((1u << sh) - 1u);
        const std::uint32_t half = 1u << (sh - 1);
        const std::uint32_t r = q + ((rem > half || (rem == half && (q & 1u))) ? 1u : 0u);
        return r;  // exponent field 0 (or 1 when rounding reached the smallest normal: r == 1<<M)
    }
    const int sh = 23 - M;
    std::uint32_t q = sig >> sh;  // 1.mmm with M fraction bits: in [2^M, 2^(M+1))
    const std::uint32_t rem = sig & ((1u << sh) - 1u);
    const std::uint32_t half = 1u << (sh - 1);
    if (rem > half || (rem == half && (q & 1u))) ++q;
    if (q == (1u << (M + 1))) {  // carry into the exponent
        q >>= 1;
        ++e;
    }
    return (static_cast<std::uint32_t>(e + BIAS) << M) | (q & ((1u << M) - 1u));
}

/// Decodes a magnitude encoding (exponent|mantissa, sign cleared) of a finite value.
template <int M, int BIAS>
inline float decode_magnitude(std::uint32_t enc) noexcept {
    const std::uint32_t ef = enc >> M;
    const std::uint32_t mf = enc & ((1u << M) - 1u);
    if (ef == 0) {
        // subnormal: mf * 2^(1-BIAS-M); exact in float for the formats used here
        float v = static_cast<float>(mf);
        int p = 1 - BIAS - M;
        // scale by 2^p exactly (p >= -133 for bf16 subnormals: go through two steps)
        while (p < -100) {
            v *= bits_to_float(0x0D800000u);  // 2^-100
            p += 100;
        }
        return v * bits_to_float(static_cast<std::uint32_t>(p + 127) << 23);
    }
    const std::uint32_t fexp = ef - static_cast<std::uint32_t>(BIAS) + 127u;
    return bits_to_float((fexp << 23) | (mf << (23 - M)));
}

// ---------------------------------------------------------------------------- fp16

/// float -> IEEE binary16, round to nearest even. Overflow gives ±Inf, or ±65504 when saturate.
inline std::uint16_t float_to_fp16(float f, bool saturate = false) noexcept {
    const std::uint32_t u = float_to_bits(f);
    const std::uint32_t sign = (u >> 16) & 0x8000u;
    const std::uint32_t a = u & 0x7FFFFFFFu;
    if (a >= 0x7F800000u) {
        if (a > 0x7F800000u) return static_cast<std::uint16_t>(sign | 0x7E00u | ((a >> 13) & 0x3FFu));
        return static_cast<std::uint16_t>(sign | (saturate ? 0x7BFFu : 0x7C00u));
    }
    std::uint32_t m = round_magnitude<10, -14, 15>(a);
    if (m >= 0x7C00u) m = saturate ? 0x7BFFu : 0x7C00u;
    return static_cast<std::uint16_t>(sign | m);
}

/// IEEE binary16 -> float (exact).
inline float fp16_to_float(std::uint16_t h) noexcept {
    const std::uint32_t sign = static_cast<std::uint32_t>(h & 0x8000u) << 16;
    const std::uint32_t a = h & 0x7FFFu;
    if (a >= 0x7C00u) {
        return bits_to_float(sign | 0x7F800000u | ((a & 0x3FFu) << 13));
    }
    return bits_to_float(sign | float_to_bits(decode_magnitude<10, 15>(a)));
}

// ---------------------------------------------------------------------------- bf16

/// float -> bfloat16, round to nearest even. Overflow gives ±Inf, or ±max finite when saturate.
inline std::uint16_t float_to_bf16(float f, bool saturate = false) noexcept {
    const std::uint32_t u = float_to_bits(f);
    const std::uint32_t sign = (u >> 16) & 0x8000u;
    const std::uint32_t a = u & 0x7FFFFFFFu;
    if (a >= 0x7F800000u) {
        if (a > 0x7F800000u) return static_cast<std::uint16_t>(sign | 0x7FC0u | ((a >> 16) & 0x7Fu));
        return static_cast<std::uint16_t>(sign | (saturate ? 0x7F7Fu : 0x7F80u));
    }
    std::uint32_t m = round_magnitude<7, -126, 127>(a);
    if (m >= 0x7F80u) m = saturate ? 0x7F7Fu : 0x7F80u;
    return static_cast<std::uint16_t>(sign | m);
}

/// bfloat16 -> float (exact: the upper 16 bits of a float).
inline float bf16_to_float(std::uint16_t b) noexcept {
    return bits_to_float(static_cast<std::uint32_t>(b) << 16);
}

// ---------------------------------------------------------------------------- fp8 e4m3fn

/// Largest finite fp8 e4m3fn value, 448 (encoding 0x7E).
inline constexpr float fp8_e4m3_max = 448.0f;
/// Largest finite fp8 e5m2 value, 57344 (encoding 0x7B).
inline constexpr float fp8_e5m2_max = 57344.0f;

/// float -> fp8 e4m3fn (bias 7, no infinities, NaN = S.1111.111), round to nearest even.
/// Overflow and ±Inf give ±448 when saturate (default), NaN otherwise.
inline std::uint8_t float_to_fp8_e4m3(float f, bool saturate = true) noexcept {
    const std::uint32_t u = float_to_bits(f);
    const std::uint32_t sign = (u >> 24) & 0x80u;
    const std::uint32_t a = u & 0x7FFFFFFFu;
    if (a > 0x7F800000u) return static_cast<std::uint8_t>(sign | 0x7Fu);
    if (a == 0x7F800000u) return static_cast<std::uint8_t>(sign | (saturate ? 0x7Eu : 0x7Fu));
    std::uint32_t m = round_magnitude<3, -6, 7>(a);
    if (m > 0x7Eu) m = saturate ? 0x7Eu : 0x7Fu;
    return static_cast<std::uint8_t>(sign | m);
}

/// fp8 e4m3fn -> float (exact; 0x7F / 0xFF are NaN).
inline float fp8_e4m3_to_float(std::uint8_t v) noexcept {
    const std::uint32_t sign = static_cast<std::uint32_t>(v & 0x80u) << 24;
    const std::uint32_t a = v & 0x7Fu;
    if (a == 0x7Fu) return bits_to_float(sign | 0x7FC00000u);
    return bits_to_float(sign | float_to_bits(decode_magnitude<3, 7>(a)));
}

// ---------------------------------------------------------------------------- fp8 e5m2

/// float -> fp8 e5m2 (bias 15, IEEE-style Inf/NaN), round to nearest even.
/// Overflow and ±Inf give ±57344 when saturate (default), ±Inf otherwise.
inline std::uint8_t float_to_fp8_e5m2(float f, bool saturate = true) noexcept {
    const std::uint32_t u = float_to_bits(f);
    const std::uint32_t sign = (u >> 24) & 0x80u;
    const std::uint32_t a = u & 0x7FFFFFFFu;
    if (a > 0x7F800000u) return static_cast<std::uint8_t>(sign | 0x7Eu);
    if (a == 0x7F800000u) return static_cast<std::uint8_t>(sign | (saturate ? 0x7Bu : 0x7Cu));
    std::uint32_t m = round_magnitude<2, -14, 15>(a);
    if (m >= 0x7Cu) m = saturate ? 0x7Bu : 0x7Cu;
    return static_cast<std::uint8_t>(sign | m);
}

/// fp8 e5m2 -> float (exact).
inline float fp8_e5m2_to_float(std::uint8_t v) noexcept {
    const std::uint32_t sign = static_cast<std::uint32_t>(v & 0x80u) << 24;
    const std::uint32_t a = v & 0x7Fu;
    if (a >= 0x7Cu) return bits_to_float(sign | 0x7F800000u | ((a & 0x3u) << 21));
    return bits_to_float(sign | float_to_bits(decode_magnitude<2, 15>(a)));
}

}  // namespace compress::detail
