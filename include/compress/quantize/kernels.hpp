#pragma once
// The hot loops of quantization: range (min/max) of a span with non-finite detection, and
// round-to-nearest-even integer codes of a span. Each takes `class Arch`; scalar_arch gives
// the plain C++ loop, with identical results (the SIMD conversion rounds with the default
// MXCSR mode, half to even, as std::nearbyint does).

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>

#include <xsimd/xsimd.hpp>

#include "../core/arch.hpp"

// g++ 12 reports a false -Wmaybe-uninitialized inside its own AVX-512 intrinsics
// (_mm512_undefined_ps in _mm512_min_ps / _mm512_max_ps) once they are inlined here, and a
// false -Waggressive-loop-optimizations on the scalar tails when n is a known constant.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Waggressive-loop-optimizations"
#endif

namespace compress::detail {

/// Min and max of x[0..n) merged into (mn, mx). Returns false when a NaN or Inf is present
/// (mn, mx are then meaningless).
template <class Arch = xsimd::default_arch>
bool span_minmax(const float* x, std::size_t n, float& mn, float& mx) noexcept {
    std::size_t i = 0;
    float lo = mn, hi = mx;
    bool finite = true;
    if constexpr (!is_scalar_arch_v<Arch>) {
        using B = xsimd::batch<float, Arch>;
        constexpr std::size_t S = B::size;
        if (n >= 2 * S) {
            B vlo0(lo), vhi0(hi), vlo1(lo), vhi1(hi), bad(0.0f);
            for (; i + 2 * S <= n; i += 2 * S) {
                const B a = B::load_unaligned(x + i);
                const B b = B::load_unaligned(x + i + S);
                vlo0 = xsimd::min(vlo0, a);
                vhi0 = xsimd::max(vhi0, a);
                vlo1 = xsimd::min(vlo1, b);
                vhi1 = xsimd::max(vhi1, b);
                bad += (a - a) + (b - b);  // 0 for finite values, NaN once an Inf or NaN is seen
            }
            alignas(64) float t0[S], t1[S], tb[S];
            xsimd::min(vlo0, vlo1).store_aligned(t0);
            xsimd::max(vhi0, vhi1).store_aligned(t1);
            bad.store_aligned(tb);
            for (std::size_t k = 0; k < S; ++k) {
                lo = std::min(lo, t0[k]);
                hi = std::max(hi, t1[k]);
                finite = finite && tb[k] == 0.0f;
            }
        }
    }
    for (; i < n; ++i) {
        const float v = x[i];
        finite = finite && std::fabs(v) <= std::numeric_limits<float>::max();
        lo = std::min(lo, v);
        hi = std::max(hi, v);
    }
    mn = lo;
    mx = hi;
    return finite;
}

/// Integer codes out[k] = clamp(round_half_even(x[k]·inv), lo, hi) + zp for k < n, where lo
/// and hi are the integers qmin - zp and qmax - zp. Clamping before rounding is the same as
/// after because lo and hi are integers.
template <class Arch = xsimd::default_arch>
void span_encode_nearest(const float* x, std::size_t n, float inv, float lo, float hi, int zp,
                         std::int32_t* out) noexcept {
    std::size_t i = 0;
    if constexpr (!is_scalar_arch_v<Arch>) {
        using B = xsimd::batch<float, Arch>;
        using BI = xsimd::batch<std::int32_t, Arch>;
        constexpr std::size_t S = B::size;
        const B vinv(inv), vlo(lo), vhi(hi);
        const BI vzp(zp);
        for (; i + S <= n; i += S) {
            B v = B::load_unaligned(x + i) * vinv;
            v = xsimd::min(xsimd::max(v, vlo), vhi);
            const BI q = xsimd::nearbyint_as_int(v) + vzp;
            q.store_unaligned(out + i);
        }
    }
    for (; i < n; ++i) {
        float v = x[i] * inv;
        v = std::min(std::max(v, lo), hi);
        out[i] = static_cast<std::int32_t>(std::nearbyint(v)) + zp;
    }
}

/// Narrows int32 codes to bytes (two's complement low 8 bits).
inline void narrow_to_bytes(const std::int32_t* q, std::size_t n, std::uint8_t* out) noexcept {
    for (std::size_t k = 0; k < n; ++k) out[k] = static_cast<std::uint8_t>(q[k] & 0xFF);
}

/// Packs int32 codes (low 4 bits) two per byte: low nibble even k, high nibble odd k.
inline void pack_nibbles(const std::int32_t* q, std::size_t n, std::uint8_t* out) noexcept {
    std::size_t k = 0;
    for (; k + 2 <= n; k += 2) {
        out[k / 2] = static_cast<std::uint8_t>((q[k] & 0xF) | ((q[k + 1] & 0xF) << 4));
    }
    if (k < n) out[k / 2] = static_cast<std::uint8_t>(q[k] & 0xF);
}

/// Packs int32 codes (low 2 bits) four per byte: element k at bits 2·(k%4).
inline void pack_crumbs(const std::int32_t* q, std::size_t n, std::uint8_t* out) noexcept {
    for (std::size_t b = 0; b < (n + 3) / 4; ++b) {
        std::uint32_t v = 0;
        for (std::size_t j = 0; j < 4 && 4 * b + j < n; ++j) v |= static_cast<std::uint32_t>(q[4 * b + j] & 0x3) << (2 * j);
        out[b] = static_cast<std::uint8_t>(v);
    }
}

}  // namespace compress::detail

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif
