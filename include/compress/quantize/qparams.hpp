#pragma once
// Scale / zero point of a block from its clipping range (PyTorch 1.13's formulas), and the
// scalar encode / decode of one value for every format family. Part of quantize.hpp.

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <type_traits>

#include "../core/half.hpp"
#include "policies.hpp"
#include "quantized_tensor.hpp"

namespace compress {

/// Scale and zero point of one block (zero point in the code domain; 0 when unused).
struct qparams {
    float scale = 1.0f;
    int zero_point = 0;
};

/// A clipping range [lo, hi] given by an observer; `valid` is false when nothing was observed.
struct clip_range {
    float lo = 0.0f;
    float hi = 0.0f;
    bool valid = false;
};

namespace detail {

/// torch.finfo(torch.float32).eps = 2^-23: the smallest scale PyTorch's observers produce.
inline constexpr float torch_eps = 1.1920928955078125e-07f;

/// Returns v through memory, so that the compiler cannot fuse the surrounding multiply and
/// add into an FMA (-ffp-contract=fast is GCC's default): keeps PyTorch's rounding.
inline float no_fma(float v) noexcept {
    volatile float t = v;
    return t;
}

/// Largest finite value of a floating-point format (fp8: the value amax maps to).
template <class F>
constexpr float float_format_max() noexcept {
    if constexpr (std::is_same_v<F, fp8_e4m3>) return fp8_e4m3_max;
    else if constexpr (std::is_same_v<F, fp8_e5m2>) return fp8_e5m2_max;
    else if constexpr (std::is_same_v<F, fp16>) return 65504.0f;
    else return std::numeric_limits<float>::max();  // bf16: saturates at 3.3895e38 after rounding
}

/// Rounds a scale to its storage format (fp16 scales: round to nearest even, saturating).
template <class ScaleFormat>
inline float round_scale(float s) noexcept {
    if constexpr (std::is_same_v<ScaleFormat, float>) {
        return s;
    } else {
        return fp16_to_float(float_to_fp16(s, /*saturate=*/true));
    }
}

/// Symmetric integer scale denominator (qmax - qmin) / 2: 127.5 for int8, 7.5 for int4.
template <class F>
constexpr float symmetric_denominator() noexcept {
    return static_cast<float>(F::qmax - F::qmin) / 2.0f;
}

/// Implicit zero point of a symmetric mapping: 2^(bits-1) for unsigned integer formats, else 0.
template <class F>
constexpr int symmetric_zero_point() noexcept {
    if constexpr (F::family == format_family::integer) {
        return F::is_signed ? 0 : (1 << (F::bits - 1));
    } else {
        return 0;
    }
}

}  // namespace detail

/// Scale and zero point of a block with clipping range [lo, hi], as PyTorch 1.13's observers
/// (`_calculate_qparams`) compute them for integer formats:
///   symmetric: scale = max(max(-min(lo,0), max(hi,0)) / ((qmax-qmin)/2), 2^-23); zero point 0
///              (signed) or 2^(bits-1) (unsigned);
///   affine:    scale = max((max(hi,0) - min(lo,0)) / (qmax-qmin), 2^-23);
///              zero point = clamp(qmin - round_half_even(min(lo,0) / scale), qmin, qmax).
/// pow2: scale α = max(amax, 2^-23) (the largest level). fp8: scale = max(amax / max_finite, 2^-23).
/// fp16/bf16: scale 1. With fp16 scale storage the scale is rounded to fp16 first (and the
/// zero point computed from the rounded scale). An invalid range (nothing observed) gives
/// scale 1 and the default zero point, as PyTorch.
template <class Format, class Mapping, class ScaleFormat = float>
qparams compute_qparams(const clip_range& r) {
    static_assert(Format::family != format_family::binary && Format::family != format_family::ternary,
                  "binary and ternary scales come from the weights (XNOR-Net / TWN), not from a range");
    qparams p;
    p.zero_point = Mapping::is_affine ? 0 : detail::symmetric_zero_point<Format>();
    if (!r.valid) return p;
    const float min_neg = std::min(r.lo, 0.0f);
    const float max_pos = std::max(r.hi, 0.0f);
    if constexpr (Format::family == format_family::integer) {
        if constexpr (!Mapping::is_affine) {
            const float amax = std::max(-min_neg, max_pos);
            p.scale = detail::round_scale<ScaleFormat>(std::max(amax / detail::symmetric_denominator<Format>(),
                                                                detail::torch_eps));
        } else {
            const float span = max_pos - min_neg;
            p.scale = detail::round_scale<ScaleFormat>(
                std::max(span / static_cast<float>(Format::qmax - Format::qmin), detail::torch_eps));
            const float z = static_cast<float>(Format::qmin) - std::nearbyint(min_neg / p.scale);
            p.zero_point = static_cast<int>(std::min(std::max(z, static_cast<float>(Format::qmin)),
                                                     static_cast<float>(Format::qmax)));
        }
    } else if constexpr (Format::family == format_family::pow2) {
        p.scale = detail::round_scale<ScaleFormat>(std::max(std::max(-min_neg, max_pos), detail::torch_eps));
    } else {
        if constexpr (Format::scaled) {
            const float amax = std::max(-min_neg, max_pos);
            p.scale = detail::round_scale<ScaleFormat>(
                std::max(amax / detail::float_format_max<Format>(), detail::torch_eps));
        } else {
            p.scale = 1.0f;
        }
    }
    return p;
}

namespace detail {

/// splitmix64: the counter-based generator behind stochastic rounding.
inline std::uint64_t splitmix64(std::uint64_t x) noexcept {
    x += 0x9E3779B97F4A7C15ull;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
    return x ^ (x >> 31);
}

/// Uniform in [0, 1) for element `index` under `seed` (24 random bits: exact in float).
inline float uniform01(std::uint64_t seed, std::uint64_t index) noexcept {
    const std::uint64_t h = splitmix64(seed ^ splitmix64(index));
    return static_cast<float>(h >> 40) * (1.0f / 16777216.0f);
}

/// Integer code of x: clamp(round(x·inv), qmin - zp, qmax - zp) + zp, where round is half to
/// even (nearest_even) or floor(x·inv + u) (stochastic). `index` keys the stochastic draw.
template <class F, class Rounding>
inline int encode_integer(float x, float inv, int zp, const Rounding& rnd, std::uint64_t index) noexcept {
    const float lo = static_cast<float>(F::qmin - zp);
    const float hi = static_cast<float>(F::qmax - zp);
    float v;
    if constexpr (std::is_same_v<Rounding, stochastic>) {
        v = std::floor(std::fma(x, inv, uniform01(rnd.seed, index)));
    } else {
        (void)rnd;
        (void)index;
        v = x * inv;
    }
    v = std::min(std::max(v, lo), hi);
    return static_cast<int>(std::nearbyint(v)) + zp;
}

/// pow2<Bits> code of x (sign-magnitude). v = |x|·inv is rounded to the nearest level of
/// {0, 2^(1-K), …, 2^-1, 1} (ties to the larger level) or stochastically between neighbours.
template <int Bits, class Rounding>
inline std::uint32_t encode_pow2(float x, float inv, const Rounding& rnd, std::uint64_t index) noexcept {
    constexpr int K = (1 << (Bits - 1)) - 1;
    const std::uint32_t sign = (x < 0.0f) ? (1u << (Bits - 1)) : 0u;
    const float v = std::fabs(x) * inv;
    std::uint32_t m;
    if (v >= 1.0f) {
        m = K;
    } else {
        // neighbours: lower level lo_m (0 = zero) and upper level lo_m + 1
        int e;
        std::frexp(v, &e);  // v = f·2^e, f in [0.5, 1): v in [2^(e-1), 2^e)
        int mlo = (v == 0.0f) ? 0 : (e - 1) + K;  // level 2^(e-1) has m = e-1+K
        if (mlo < 0) mlo = 0;
        const float lo = mlo == 0 ? 0.0f : std::ldexp(1.0f, mlo - K);
        const float hi = std::ldexp(1.0f, mlo + 1 - K);
        if constexpr (std::is_same_v<Rounding, stochastic>) {
            const float p = (v - lo) / (hi - lo);
            m = static_cast<std::uint32_t>(uniform01(rnd.seed, index) < p ? mlo + 1 : mlo);
        } else {
            (void)rnd;
            (void)index;
            m = static_cast<std::uint32_t>((v - lo) < (hi - v) ? mlo : mlo + 1);
        }
    }
    return m == 0 ? 0u : (sign | m);
}

/// Floating-point format code of x·inv (round to nearest even, saturating).
template <class F>
inline std::uint32_t encode_float(float x, float inv) noexcept {
    if constexpr (std::is_same_v<F, fp16>) return float_to_fp16(x, true);
    else if constexpr (std::is_same_v<F, bf16>) return float_to_bf16(x, true);
    else if constexpr (std::is_same_v<F, fp8_e4m3>) return float_to_fp8_e4m3(x * inv, true);
    else return float_to_fp8_e5m2(x * inv, true);
}

/// Quantize-dequantize of one value with block parameters (what fake_quantize computes).
template <class F, class Rounding>
inline float fake_quantize_value(float x, const qparams& p, float inv, const Rounding& rnd,
                                 std::uint64_t index) noexcept {
    if constexpr (F::family == format_family::integer) {
        return static_cast<float>(encode_integer<F>(x, inv, p.zero_point, rnd, index) - p.zero_point) * p.scale;
    } else if constexpr (F::family == format_family::pow2) {
        return pow2_level<F::bits>(encode_pow2<F::bits>(x, inv, rnd, index)) * p.scale;
    } else {
        (void)rnd;
        (void)index;
        return decode_float_code<F>(encode_float<F>(x, inv)) * p.scale;
    }
}

/// True when the straight-through estimator passes the gradient of x: x·inv + zp inside
/// [qmin, qmax] before clamping (PyTorch's fake_quantize backward); pow2: |x| <= α;
/// floating: |x·inv| <= largest finite value.
template <class F>
inline bool ste_pass(float x, const qparams& p, float inv) noexcept {
    if constexpr (F::family == format_family::integer) {
        const float q = std::nearbyint(x * inv) + static_cast<float>(p.zero_point);
        return q >= static_cast<float>(F::qmin) && q <= static_cast<float>(F::qmax);
    } else if constexpr (F::family == format_family::pow2) {
        return std::fabs(x) * inv <= 1.0f;
    } else if constexpr (F::family == format_family::floating) {
        return std::fabs(F::scaled ? x * inv : x) <= float_format_max<F>();
    } else {
        (void)p;
        (void)inv;
        return std::fabs(x) <= 1.0f;  // binary / ternary: hard-tanh STE (BinaryConnect, XNOR-Net)
    }
}

}  // namespace detail
}  // namespace compress
