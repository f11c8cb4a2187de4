#pragma once
// Integer kernels for int8 weights.
//
// W8A8:  Y[M,N] = sa[m] · sw[n] · Σ_k qa[m,k] · (qw[n,k] − zw[n]) + bias[n]
//   activations: int8 codes in [-127, 127] (symmetric, per-row dynamic scale or a calibrated
//   per-tensor scale), quantized once into `q8_activations` and reusable across layers;
//   weights: int8 codes in [-128, 127] per output channel (optional zero points), re-laid out
//   once into `w8a8_weights` (below). Accumulation is int32, exact on every path:
//     - AVX-512 VNNI (vpdpbusd zmm) and AVX-VNNI (vpdpbusd ymm): the weights are stored as u8
//       (code + 128) so that the activations are the signed, broadcast operand; the +128 is
//       removed afterwards with the activation row sums: Σ a·(w+128) − 128·Σ a.
//     - AVX2 and AVX-512BW without VNNI (vpmaddubsw + vpmaddwd): vpmaddubsw multiplies u8 × s8
//       and adds pairs into int16 WITH SATURATION. It is fed |w| (0..128, as u8) and
//       sign(w)·a (a in [-127, 127], so the sign flip never overflows): every pair sum is at
//       most 2·128·127 = 32512 < 32767, so it never saturates, and the int32 sums are exact.
//     - scalar: plain loops (wrapping uint32 arithmetic, so even an int32 overflow, which
//       needs K > 131 000, wraps the same way as the SIMD paths).
//   Identical int32 accumulators on every path (tested); the fp32 epilogue is
//   fma(float(acc), sa·sw, bias) on every path.
//
// Weight-only int8: Y = Σ_g s[n,g] · Σ_{k∈g} q[n,k] · x[m,k] + bias, codes dequantized in
//   registers, fp32 accumulation, group scales float or fp16 bits (std::uint16_t).
//
// Packed W8A8 weight layout (fixed; it does not depend on the vector width):
//   kp = round_up(K, 4); output channels in panels of 64 (the last one narrower:
//   round_up(N - 64p, 16) channels, i.e. nv = 1..4 blocks of 16); a panel stores, for each
//   k-group g = 0 .. kp/4 − 1, nv blocks of 64 bytes; byte 4c + j of block b is
//   qw[64p + 16b + c, 4g + j] + 128. Padding channels and padding k hold code 0 (byte 128).

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <type_traits>
#include <vector>

#include "lowbit_common.hpp"

// g++ 12 reports the `__Y = __Y` self-initialization inside its own AVX-512 intrinsics
// (_mm512_undefined_ps, GCC bug 105593) as -Wmaybe-uninitialized once they are inlined here.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

namespace compress::detail {

// ======================================================================================
// Activations
// ======================================================================================

/// Activations quantized to int8 once, fed to any number of W8A8 layers with the same K.
struct q8_activations {
    std::size_t rows = 0;   ///< M
    std::size_t cols = 0;   ///< K
    std::size_t ld = 0;     ///< row stride of `codes`, round_up(K, 64); padding codes are 0
    aligned_vector<std::int8_t> codes;  ///< rows × ld, values in [-127, 127]
    std::vector<float> scales;          ///< per row (a calibrated scale is repeated per row)
    std::vector<std::int32_t> sums;     ///< per row: Σ_k codes (for the VNNI/zero-point compensation)

    std::size_t bytes() const noexcept {
        return codes.size() + scales.size() * sizeof(float) + sums.size() * sizeof(std::int32_t);
    }
    void resize(std::size_t m, std::size_t k) {
        rows = m;
        cols = k;
        ld = round_up(std::max<std::size_t>(k, 1), 64);
        codes.assign(m * ld, 0);
        scales.assign(m, 0.0f);
        sums.assign(m, 0);
    }
};

/// Code of x under scale s: round half to even of x / s, clamped to [-127, 127]. The division
/// (not a multiplication by 1/s) is exactly rounded, so every path gives the same code.
inline std::int8_t quantize_code_s8(float x, float s) noexcept {
    float q = std::nearbyint(x / s);
    q = std::min(127.0f, std::max(-127.0f, q));
    return static_cast<std::int8_t>(static_cast<int>(q));
}

template <class Arch>
float row_absmax(const float* x, std::size_t k) noexcept {
    std::size_t i = 0;
    float m = 0.0f;
    if constexpr (!is_scalar_arch_v<Arch>) {
        using B = xsimd::batch<float, Arch>;
        constexpr std::size_t W = B::size;
        B acc(0.0f);
        for (; i + W <= k; i += W) acc = xsimd::max(acc, xsimd::abs(B::load_unaligned(x + i)));
        alignas(64) float t[W];
        acc.store_aligned(t);
        for (std::size_t j = 0; j < W; ++j) m = std::max(m, t[j]);
    }
    for (; i < k; ++i) m = std::max(m, std::fabs(x[i]));
    return m;
}

/// Quantizes one row with scale s (s > 0); returns Σ codes.
template <class Arch>
std::int32_t quantize_row_s8(const float* x, std::size_t k, float s, std::int8_t* out) noexcept {
    std::size_t i = 0;
    std::int32_t sum = 0;
#if defined(COMPRESS_X86)
    if constexpr (is_avx512bw_v<Arch>) {
#if defined(__AVX512BW__)
        const __m512 vs = _mm512_set1_ps(s);
        const __m512 lo = _mm512_set1_ps(-127.0f), hi = _mm512_set1_ps(127.0f);
        __m512i vsum = _mm512_setzero_si512();
        for (; i + 16 <= k; i += 16) {
            __m512 q = _mm512_div_ps(_mm512_loadu_ps(x + i), vs);
            q = _mm512_roundscale_ps(q, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
            q = _mm512_min_ps(hi, _mm512_max_ps(lo, q));
            __m512i qi = _mm512_cvtps_epi32(q);
            vsum = _mm512_add_epi32(vsum, qi);
            _mm_storeu_si128(reinterpret_cast<__m128i*>(out + i), _mm512_cvtepi32_epi8(qi));
        }
        sum = _mm512_reduce_add_epi32(vsum);
#endif
    } else if constexpr (is_avx2_v<Arch>) {
#if defined(__AVX2__)
        const __m256 vs = _mm256_set1_ps(s);
        const __m256 lo = _mm256_set1_ps(-127.0f), hi = _mm256_set1_ps(127.0f);
        __m256i vsum = _mm256_setzero_si256();
        for (; i + 8 <= k; i += 8) {
            __m256 q = _mm256_div_ps(_mm256_loadu_ps(x + i), vs);
            q = _mm256_round_ps(q, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
            q = _mm256_min_ps(hi, _mm256_max_ps(lo, q));
            __m256i qi = _mm256_cvtps_epi32(q);
            vsum = _mm256_add_epi32(vsum, qi);
            alignas(32) std::int32_t t[8];
            _mm256_store_si256(reinterpret_cast<__m256i*>(t), qi);
            for (int j = 0; j < 8; ++j) out[i + static_cast<std::size_t>(j)] = static_cast<std::int8_t>(t[j]);
        }
        alignas(32) std::int32_t t[8];
        _mm256_store_si256(reinterpret_cast<__m256i*>(t), vsum);
        for (int j = 0; j < 8; ++j) sum += t[j];
#endif
    }
#endif
    for (; i < k; ++i) {
        out[i] = quantize_code_s8(x[i], s);
        sum += out[i];
    }
    return sum;
}

/// Per-row dynamic quantization: scale = max|x[m,:]| / 127 (a zero row gets scale 0 and
/// codes 0). x is [M, K] with row stride ldx. Values must be finite (checked by the caller).
template <class Arch = xsimd::default_arch>
void quantize_activations_dynamic(const float* x, std::size_t M, std::size_t K, std::size_t ldx,
                                  q8_activations& out) {
    out.resize(M, K);
    COMPRESS_OMP_FOR
    for (std::ptrdiff_t mi = 0; mi < static_cast<std::ptrdiff_t>(M); ++mi) {
        const auto m = static_cast<std::size_t>(mi);
        const float* xr = x + m * ldx;
        const float amax = row_absmax<Arch>(xr, K);
        const float s = amax / 127.0f;
        out.scales[m] = s;
        if (s > 0.0f) out.sums[m] = quantize_row_s8<Arch>(xr, K, s, out.codes.data() + m * out.ld);
    }
}

/// Quantization with a calibrated per-tensor scale (> 0, finite): values beyond ±127·scale clip.
template <class Arch = xsimd::default_arch>
void quantize_activations_static(const float* x, std::size_t M, std::size_t K, std::size_t ldx, float scale,
                                 q8_activations& out) {
    out.resize(M, K);
    COMPRESS_OMP_FOR
    for (std::ptrdiff_t mi = 0; mi < static_cast<std::ptrdiff_t>(M); ++mi) {
        const auto m = static_cast<std::size_t>(mi);
        out.scales[m] = scale;
        out.sums[m] = quantize_row_s8<Arch>(x + m * ldx, K, scale, out.codes.data() + m * out.ld);
    }
}

// ======================================================================================
// Packed W8A8 weights
// ======================================================================================

struct w8a8_weights {
    std::size_t n = 0, k = 0, kp = 0;       ///< N, K, round_up(K, 4)
    aligned_vector<std::uint8_t> data;      ///< panels, see the layout at the top of this file
    std::vector<float> scales;              ///< per output channel
    std::vector<std::int32_t> zero_points;  ///< per output channel (all 0 for symmetric)
    std::vector<std::int32_t> comp;         ///< 128 + zero_points[n] (the VNNI compensation factor)

    std::size_t groups() const noexcept { return kp / 4; }
    std::size_t panels() const noexcept { return div_up(n, 64); }
    std::size_t panel_channels(std::size_t p) const noexcept { return std::min<std::size_t>(64, round_up(n, 16) - 64 * p); }
    std::size_t panel_offset(std::size_t p) const noexcept { return p * groups() * 256; }
    /// Bytes held: re-laid-out codes (with their padding) + scales + zero points + compensation.
    std::size_t bytes() const noexcept {
        return data.size() + (scales.size() + zero_points.size() + comp.size()) * 4;
    }
    /// Code of channel i at position j (for tests and the scalar path).
    std::int8_t code(std::size_t i, std::size_t j) const noexcept {
        const std::size_t p = i / 64, c = i % 64, b = c / 16, cc = c % 16;
        const std::size_t nv = panel_channels(p) / 16;
        const std::uint8_t byte = data[panel_offset(p) + (j / 4) * nv * 64 + b * 64 + cc * 4 + j % 4];
        return static_cast<std::int8_t>(static_cast<int>(byte) - 128);
    }
};

/// Re-lays out int8 codes w [N, K] (row stride ldw) for the W8A8 kernels. `scales` has N
/// entries (or 1: per-tensor, repeated); `zero_points` is null (symmetric) or has N (or 1).
inline w8a8_weights pack_w8a8(const std::int8_t* w, std::size_t N, std::size_t K, std::size_t ldw,
                              const float* scales, std::size_t n_scales, const std::int32_t* zero_points = nullptr,
                              std::size_t n_zero_points = 0) {
    w8a8_weights p;
    p.n = N;
    p.k = K;
    p.kp = round_up(K, 4);
    const std::size_t N16 = round_up(N, 16);
    p.data.assign(N16 * p.kp, 128);
    for (std::size_t i = 0; i < N; ++i) {
        const std::size_t pan = i / 64, c = i % 64, b = c / 16, cc = c % 16;
        const std::size_t nv = p.panel_channels(pan) / 16;
        std::uint8_t* base = p.data.data() + p.panel_offset(pan) + b * 64 + cc * 4;
        const std::int8_t* wr = w + i * ldw;
        for (std::size_t j = 0; j < K; ++j) {
            base[(j / 4) * nv * 64 + j % 4] = static_cast<std::uint8_t>(static_cast<int>(wr[j]) + 128);
        }
    }
    p.scales.resize(N16, 0.0f);
    p.zero_points.assign(N16, 0);
    p.comp.assign(N16, 128);
    for (std::size_t i = 0; i < N; ++i) {
        p.scales[i] = scales[n_scales == 1 ? 0 : i];
        if (zero_points) p.zero_points[i] = zero_points[n_zero_points == 1 ? 0 : i];
        p.comp[i] = 128 + p.zero_points[i];
    }
    return p;
}

// ======================================================================================
// W8A8 GEMM
// ======================================================================================

/// What the W8A8 driver writes: exact int32 sums Σ a·(w − zw), or the dequantized fp32 result.
struct w8a8_out {
    std::int32_t* acc = nullptr;  ///< int32 output [M, N] (ldc), or null
    float* y = nullptr;           ///< fp32 output [M, N] (ldc), or null
    const float* bias = nullptr;  ///< N entries or null
    std::size_t ldc = 0;
};

/// Epilogue for one (row, 16-channel block), scalar form shared by every path so that the
/// fp32 results agree too: y = fma(float(acc − comp·sum), sa·sw, bias).
inline void w8a8_store_scalar(const std::int32_t* raw, std::size_t cnt, std::size_t m, std::size_t n0,
                              const q8_activations& a, const w8a8_weights& w, const w8a8_out& o,
                              bool raw_has_offset) {
    for (std::size_t c = 0; c < cnt; ++c) {
        const std::size_t n = n0 + c;
        const std::int32_t f = raw_has_offset ? w.comp[n] : w.zero_points[n];
        const std::int32_t v = wrap_add(raw[c], -wrap_mul(f, a.sums[m]));
        if (o.acc) o.acc[m * o.ldc + n] = v;
        if (o.y) {
            const float b = o.bias ? o.bias[n] : 0.0f;
            o.y[m * o.ldc + n] = std::fma(static_cast<float>(v), a.scales[m] * w.scales[n], b);
        }
    }
}

#if defined(COMPRESS_X86) && defined(__AVX512BW__)
// Stores 16 int32 lanes (channels n0..n0+15, cnt of them valid) of row m.
inline void w8a8_store16(__m512i raw, std::size_t cnt, std::size_t m, std::size_t n0, const q8_activations& a,
                         const w8a8_weights& w, const w8a8_out& o, bool raw_has_offset) {
    const __m512i f = _mm512_loadu_si512(raw_has_offset ? w.comp.data() + n0 : w.zero_points.data() + n0);
    const __m512i v = _mm512_sub_epi32(raw, _mm512_mullo_epi32(f, _mm512_set1_epi32(a.sums[m])));
    const __mmask16 k = cnt >= 16 ? static_cast<__mmask16>(0xFFFF) : static_cast<__mmask16>((1u << cnt) - 1u);
    if (o.acc) _mm512_mask_storeu_epi32(o.acc + m * o.ldc + n0, k, v);
    if (o.y) {
        const __m512 s = _mm512_mul_ps(_mm512_set1_ps(a.scales[m]), _mm512_loadu_ps(w.scales.data() + n0));
        const __m512 b = o.bias ? _mm512_maskz_loadu_ps(k, o.bias + n0) : _mm512_setzero_ps();
        _mm512_mask_storeu_ps(o.y + m * o.ldc + n0, k, _mm512_fmadd_ps(_mm512_cvtepi32_ps(v), s, b));
    }
}
#endif

inline std::int32_t load_i32(const std::int8_t* p) noexcept {
    std::int32_t v;
    std::memcpy(&v, p, 4);
    return v;
}

#if COMPRESS_HAS_VNNI512 && defined(__GNUC__) && defined(__x86_64__)
#define COMPRESS_W8A8_ASM 1
/// The 6-row × 64-channel VNNI tile over ng > 0 k-groups, written in assembly: acc (6 rows ×
/// 64 int32, row-major, in memory) += Σ_g Σ_j A[i, 4g + j] · B[g][c][j]. g++ 12 cannot keep 24
/// accumulators, 4 weight vectors and a broadcast in the 32 zmm registers: its intrinsics
/// version spills accumulators to the stack on every step. A points at the tile's first row at
/// group g0, B at group g0 of the panel (256 bytes per group, 64-byte aligned).
inline void w8a8_vnni_6x4(const std::int8_t* A, std::size_t lda, const std::uint8_t* B, std::size_t ng,
                          std::int32_t* acc) noexcept {
    const std::int8_t* A3 = A + 3 * lda;
    __asm__ volatile(
        "{vmovdqu64 0(%[c]), %%zmm0|vmovdqu64 zmm0, [%[c]]}\n\t"
        "{vmovdqu64 64(%[c]), %%zmm1|vmovdqu64 zmm1, [%[c]+64]}\n\t"
        "{vmovdqu64 128(%[c]), %%zmm2|vmovdqu64 zmm2, [%[c]+128]}\n\t"
        "{vmovdqu64 192(%[c]), %%zmm3|vmovdqu64 zmm3, [%[c]+192]}\n\t"
        "{vmovdqu64 256(%[c]), %%zmm4|vmovdqu64 zmm4, [%[c]+256]}\n\t"
        "{vmovdqu64 320(%[c]), %%zmm5|vmovdqu64 zmm5, [%[c]+320]}\n\t"
        "{vmovdqu64 384(%[c]), %%zmm6|vmovdqu64 zmm6, [%[c]+384]}\n\t"
        "{vmovdqu64 448(%[c]), %%zmm7|vmovdqu64 zmm7, [%[c]+448]}\n\t"
        "{vmovdqu64 512(%[c]), %%zmm8|vmovdqu64 zmm8, [%[c]+512]}\n\t"
        "{vmovdqu64 576(%[c]), %%zmm9|vmovdqu64 zmm9, [%[c]+576]}\n\t"
        "{vmovdqu64 640(%[c]), %%zmm10|vmovdqu64 zmm10, [%[c]+640]}\n\t"
        "{vmovdqu64 704(%[c]), %%zmm11|vmovdqu64 zmm11, [%[c]+704]}\n\t"
        "{vmovdqu64 768(%[c]), %%zmm12|vmovdqu64 zmm12, [%[c]+768]}\n\t"
        "{vmovdqu64 832(%[c]), %%zmm13|vmovdqu64 zmm13, [%[c]+832]}\n\t"
        "{vmovdqu64 896(%[c]), %%zmm14|vmovdqu64 zmm14, [%[c]+896]}\n\t"
        "{vmovdqu64 960(%[c]), %%zmm15|vmovdqu64 zmm15, [%[c]+960]}\n\t"
        "{vmovdqu64 1024(%[c]), %%zmm16|vmovdqu64 zmm16, [%[c]+1024]}\n\t"
        "{vmovdqu64 1088(%[c]), %%zmm17|vmovdqu64 zmm17, [%[c]+1088]}\n\t"
        "{vmovdqu64 1152(%[c]), %%zmm18|vmovdqu64 zmm18, [%[c]+1152]}\n\t"
        "{vmovdqu64 1216(%[c]), %%zmm19|vmovdqu64 zmm19, [%[c]+1216]}\n\t"
        "{vmovdqu64 1280(%[c]), %%zmm20|vmovdqu64 zmm20, [%[c]+1280]}\n\t"
        "{vmovdqu64 1344(%[c]), %%zmm21|vmovdqu64 zmm21, [%[c]+1344]}\n\t"
        "{vmovdqu64 1408(%[c]), %%zmm22|vmovdqu64 zmm22, [%[c]+1408]}\n\t"
        "{vmovdqu64 1472(%[c]), %%zmm23|vmovdqu64 zmm23, [%[c]+1472]}\n\t"
        ".p2align 4\n\t"
        "1:\n\t"
        "{vmovdqa64 0(%[b]), %%zmm24|vmovdqa64 zmm24, [%[b]]}\n\t"
        "{vmovdqa64 64(%[b]), %%zmm25|vmovdqa64 zmm25, [%[b]+64]}\n\t"
        "{vmovdqa64 128(%[b]), %%zmm26|vmovdqa64 zmm26, [%[b]+128]}\n\t"
        "{vmovdqa64 192(%[b]), %%zmm27|vmovdqa64 zmm27, [%[b]+192]}\n\t"
        "{vpbroadcastd (%[a0]), %%zmm28|vpbroadcastd zmm28, dword ptr [%[a0]]}\n\t"
        "{vpbroadcastd (%[a0],%[lda],1), %%zmm29|vpbroadcastd zmm29, dword ptr [%[a0]+%[lda]*1]}\n\t"
        "{vpbroadcastd (%[a0],%[lda],2), %%zmm30|vpbroadcastd zmm30, dword ptr [%[a0]+%[lda]*2]}\n\t"
        "{vpbroadcastd (%[a3]), %%zmm31|vpbroadcastd zmm31, dword ptr [%[a3]]}\n\t"
        "{vpdpbusd %%zmm28, %%zmm24, %%zmm0|vpdpbusd zmm0, zmm24, zmm28}\n\t"
        "{vpdpbusd %%zmm28, %%zmm25, %%zmm1|vpdpbusd zmm1, zmm25, zmm28}\n\t"
        "{vpdpbusd %%zmm28, %%zmm26, %%zmm2|vpdpbusd zmm2, zmm26, zmm28}\n\t"
        "{vpdpbusd %%zmm28, %%zmm27, %%zmm3|vpdpbusd zmm3, zmm27, zmm28}\n\t"
        "{vpdpbusd %%zmm29, %%zmm24, %%zmm4|vpdpbusd zmm4, zmm24, zmm29}\n\t"
        "{vpdpbusd %%zmm29, %%zmm25, %%zmm5|vpdpbusd zmm5, zmm25, zmm29}\n\t"
        "{vpdpbusd %%zmm29, %%zmm26, %%zmm6|vpdpbusd zmm6, zmm26, zmm29}\n\t"
        "{vpdpbusd %%zmm29, %%zmm27, %%zmm7|vpdpbusd zmm7, zmm27, zmm29}\n\t"
        "{vpbroadcastd (%[a3],%[lda],1), %%zmm28|vpbroadcastd zmm28, dword ptr [%[a3]+%[lda]*1]}\n\t"
        "{vpbroadcastd (%[a3],%[lda],2), %%zmm29|vpbroadcastd zmm29, dword ptr [%[a3]+%[lda]*2]}\n\t"
        "{vpdpbusd %%zmm30, %%zmm24, %%zmm8|vpdpbusd zmm8, zmm24, zmm30}\n\t"
        "{vpdpbusd %%zmm30, %%zmm25, %%zmm9|vpdpbusd zmm9, zmm25, zmm30}\n\t"
        "{vpdpbusd %%zmm30, %%zmm26, %%zmm10|vpdpbusd zmm10, zmm26, zmm30}\n\t"
        "{vpdpbusd %%zmm30, %%zmm27, %%zmm11|vpdpbusd zmm11, zmm27, zmm30}\n\t"
        "{vpdpbusd %%zmm31, %%zmm24, %%zmm12|vpdpbusd zmm12, zmm24, zmm31}\n\t"
        "{vpdpbusd %%zmm31, %%zmm25, %%zmm13|vpdpbusd zmm13, zmm25, zmm31}\n\t"
        "{vpdpbusd %%zmm31, %%zmm26, %%zmm14|vpdpbusd zmm14, zmm26, zmm31}\n\t"
        "{vpdpbusd %%zmm31, %%zmm27, %%zmm15|vpdpbusd zmm15, zmm27, zmm31}\n\t"
        "{vpdpbusd %%zmm28, %%zmm24, %%zmm16|vpdpbusd zmm16, zmm24, zmm28}\n\t"
        "{vpdpbusd %%zmm28, %%zmm25, %%zmm17|vpdpbusd zmm17, zmm25, zmm28}\n\t"
        "{vpdpbusd %%zmm28, %%zmm26, %%zmm18|vpdpbusd zmm18, zmm26, zmm28}\n\t"
        "{vpdpbusd %%zmm28, %%zmm27, %%zmm19|vpdpbusd zmm19, zmm27, zmm28}\n\t"
        "{vpdpbusd %%zmm29, %%zmm24, %%zmm20|vpdpbusd zmm20, zmm24, zmm29}\n\t"
        "{vpdpbusd %%zmm29, %%zmm25, %%zmm21|vpdpbusd zmm21, zmm25, zmm29}\n\t"
        "{vpdpbusd %%zmm29, %%zmm26, %%zmm22|vpdpbusd zmm22, zmm26, zmm29}\n\t"
        "{vpdpbusd %%zmm29, %%zmm27, %%zmm23|vpdpbusd zmm23, zmm27, zmm29}\n\t"
        "{add $4, %[a0]|add %[a0], 4}\n\t"
        "{add $4, %[a3]|add %[a3], 4}\n\t"
        "{add $256, %[b]|add %[b], 256}\n\t"
        "dec %[n]\n\t"
        "jnz 1b\n\t"
        "{vmovdqu64 %%zmm0, 0(%[c])|vmovdqu64 [%[c]], zmm0}\n\t"
        "{vmovdqu64 %%zmm1, 64(%[c])|vmovdqu64 [%[c]+64], zmm1}\n\t"
        "{vmovdqu64 %%zmm2, 128(%[c])|vmovdqu64 [%[c]+128], zmm2}\n\t"
        "{vmovdqu64 %%zmm3, 192(%[c])|vmovdqu64 [%[c]+192], zmm3}\n\t"
        "{vmovdqu64 %%zmm4, 256(%[c])|vmovdqu64 [%[c]+256], zmm4}\n\t"
        "{vmovdqu64 %%zmm5, 320(%[c])|vmovdqu64 [%[c]+320], zmm5}\n\t"
        "{vmovdqu64 %%zmm6, 384(%[c])|vmovdqu64 [%[c]+384], zmm6}\n\t"
        "{vmovdqu64 %%zmm7, 448(%[c])|vmovdqu64 [%[c]+448], zmm7}\n\t"
        "{vmovdqu64 %%zmm8, 512(%[c])|vmovdqu64 [%[c]+512], zmm8}\n\t"
        "{vmovdqu64 %%zmm9, 576(%[c])|vmovdqu64 [%[c]+576], zmm9}\n\t"
        "{vmovdqu64 %%zmm10, 640(%[c])|vmovdqu64 [%[c]+640], zmm10}\n\t"
        "{vmovdqu64 %%zmm11, 704(%[c])|vmovdqu64 [%[c]+704], zmm11}\n\t"
        "{vmovdqu64 %%zmm12, 768(%[c])|vmovdqu64 [%[c]+768], zmm12}\n\t"
        "{vmovdqu64 %%zmm13, 832(%[c])|vmovdqu64 [%[c]+832], zmm13}\n\t"
        "{vmovdqu64 %%zmm14, 896(%[c])|vmovdqu64 [%[c]+896], zmm14}\n\t"
        "{vmovdqu64 %%zmm15, 960(%[c])|vmovdqu64 [%[c]+960], zmm15}\n\t"
        "{vmovdqu64 %%zmm16, 1024(%[c])|vmovdqu64 [%[c]+1024], zmm16}\n\t"
        "{vmovdqu64 %%zmm17, 1088(%[c])|vmovdqu64 [%[c]+1088], zmm17}\n\t"
        "{vmovdqu64 %%zmm18, 1152(%[c])|vmovdqu64 [%[c]+1152], zmm18}\n\t"
        "{vmovdqu64 %%zmm19, 1216(%[c])|vmovdqu64 [%[c]+1216], zmm19}\n\t"
        "{vmovdqu64 %%zmm20, 1280(%[c])|vmovdqu64 [%[c]+1280], zmm20}\n\t"
        "{vmovdqu64 %%zmm21, 1344(%[c])|vmovdqu64 [%[c]+1344], zmm21}\n\t"
        "{vmovdqu64 %%zmm22, 1408(%[c])|vmovdqu64 [%[c]+1408], zmm22}\n\t"
        "{vmovdqu64 %%zmm23, 1472(%[c])|vmovdqu64 [%[c]+1472], zmm23}\n\t"
        : [a0] "+r"(A), [a3] "+r"(A3), [b] "+r"(B), [n] "+r"(ng)
        : [c] "r"(acc), [lda] "r"(lda)
        : "memory", "cc", "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9", "xmm10",
          "xmm11", "xmm12", "xmm13", "xmm14", "xmm15", "xmm16", "xmm17", "xmm18", "xmm19", "xmm20", "xmm21", "xmm22",
          "xmm23", "xmm24", "xmm25", "xmm26", "xmm27", "xmm28", "xmm29", "xmm30", "xmm31");
}
#else
#define COMPRESS_W8A8_ASM 0
#endif

#if defined(COMPRESS_X86) && defined(__AVX512BW__)
// MR rows × NV blocks of 16 channels over k-groups [g0, g1). vnni: vpdpbusd; otherwise
// vpmaddubsw/vpmaddwd. Partial sums of earlier K blocks come from / go to `part` (MR × 64
// int32); the last K block runs the epilogue.
template <int MR, int NV, bool Vnni>
inline void w8a8_micro512(const std::int8_t* A, std::size_t lda, const std::uint8_t* B, std::size_t g0, std::size_t g1,
                          std::int32_t* part, bool first, bool last, std::size_t m0, std::size_t n0, std::size_t nvalid,
                          const q8_activations& a, const w8a8_weights& w, const w8a8_out& o) {
    // the accumulators start at 0 and the partial sums of earlier K blocks are added after the
    // loop: a conditional initial value makes g++ copy all of them on every step
    __m512i acc[MR][NV];
    for (int i = 0; i < MR; ++i)
        for (int v = 0; v < NV; ++v) acc[i][v] = _mm512_setzero_si512();
    [[maybe_unused]] const __m512i ones16 = _mm512_set1_epi16(1);
    [[maybe_unused]] const __m512i bias128 = _mm512_set1_epi8(static_cast<char>(0x80));
#if COMPRESS_W8A8_ASM
    if constexpr (Vnni && MR == 6 && NV == 4) {
        alignas(64) std::int32_t mem[MR * 64] = {};
        if (g1 > g0) w8a8_vnni_6x4(A + 4 * g0, lda, B + g0 * 256, g1 - g0, mem);
        for (int i = 0; i < MR; ++i)
            for (int v = 0; v < NV; ++v) acc[i][v] = _mm512_load_si512(mem + i * 64 + v * 16);
        g1 = g0;  // done: skip the intrinsics loop
    }
#endif
    for (std::size_t g = g0; g < g1; ++g) {
        __m512i b[NV];
        for (int v = 0; v < NV; ++v) b[v] = _mm512_load_si512(B + (g * NV + static_cast<std::size_t>(v)) * 64);
        if constexpr (Vnni) {
#if COMPRESS_HAS_VNNI512
            for (int i = 0; i < MR; ++i) {
                const __m512i av = _mm512_set1_epi32(load_i32(A + static_cast<std::size_t>(i) * lda + 4 * g));
                for (int v = 0; v < NV; ++v) acc[i][v] = _mm512_dpbusd_epi32(acc[i][v], b[v], av);
            }
#endif
        } else {
            __m512i sw[NV], aw[NV];
            for (int v = 0; v < NV; ++v) {
                sw[v] = _mm512_xor_si512(b[v], bias128);  // s8 codes
                aw[v] = _mm512_abs_epi8(sw[v]);           // |w| as u8 (128 stays 0x80 = 128)
            }
            for (int i = 0; i < MR; ++i) {
                const __m512i av = _mm512_set1_epi32(load_i32(A + static_cast<std::size_t>(i) * lda + 4 * g));
                for (int v = 0; v < NV; ++v) {
                    // sign(w)·a: negate a where w < 0, zero where w == 0 (AVX-512 has no vpsignb)
                    const __mmask64 neg = _mm512_movepi8_mask(sw[v]);
                    const __m512i sa = _mm512_mask_sub_epi8(av, neg, _mm512_setzero_si512(), av);
                    const __m512i p16 = _mm512_maddubs_epi16(aw[v], sa);
                    acc[i][v] = _mm512_add_epi32(acc[i][v], _mm512_madd_epi16(p16, ones16));
                }
            }
        }
    }
    for (int i = 0; i < MR; ++i) {
        for (int v = 0; v < NV; ++v) {
            __m512i r = acc[i][v];
            if (!first) r = _mm512_add_epi32(r, _mm512_loadu_si512(part + i * 64 + v * 16));
            const std::size_t c0 = static_cast<std::size_t>(v) * 16;
            if (!last) _mm512_storeu_si512(part + i * 64 + v * 16, r);
            else if (c0 < nvalid)
                w8a8_store16(r, nvalid - c0, m0 + static_cast<std::size_t>(i), n0 + c0, a, w, o, Vnni);
        }
    }
}

/// k-groups per K block: the block of a 64-channel panel (256 bytes per group) stays in L1.
inline constexpr std::size_t w8a8_kc_groups = 128;

template <bool Vnni, int NV>
inline void w8a8_panel512(const q8_activations& a, const w8a8_weights& w, std::size_t p, const w8a8_out& o) {
    constexpr int MR = NV >= 4 ? 6 : (NV == 3 ? 8 : 12);
    const std::uint8_t* B = w.data.data() + w.panel_offset(p);
    const std::size_t n0 = 64 * p;
    const std::size_t nvalid = std::min<std::size_t>(64, w.n - n0);
    const std::size_t G = w.groups();
    const std::size_t M = a.rows;
    aligned_vector<std::int32_t> part(G > w8a8_kc_groups ? M * 64 : 0);
    for (std::size_t g0 = 0; g0 < G || g0 == 0; g0 += w8a8_kc_groups) {
        const std::size_t g1 = std::min(G, g0 + w8a8_kc_groups);
        const bool first = g0 == 0, last = g1 == G;
        auto P = [&](std::size_t m) { return part.empty() ? nullptr : part.data() + m * 64; };
        std::size_t m = 0;
        for (; m + MR <= M; m += MR)
            w8a8_micro512<MR, NV, Vnni>(a.codes.data() + m * a.ld, a.ld, B, g0, g1, P(m), first, last, m, n0, nvalid, a, w, o);
        const std::size_t rem = M - m;
        const std::int8_t* A = a.codes.data() + m * a.ld;
        switch (rem) {  // tails: one call with the remaining rows
            case 0: break;
            case 1: w8a8_micro512<1, NV, Vnni>(A, a.ld, B, g0, g1, P(m), first, last, m, n0, nvalid, a, w, o); break;
            case 2: w8a8_micro512<2, NV, Vnni>(A, a.ld, B, g0, g1, P(m), first, last, m, n0, nvalid, a, w, o); break;
            case 3: w8a8_micro512<3, NV, Vnni>(A, a.ld, B, g0, g1, P(m), first, last, m, n0, nvalid, a, w, o); break;
            case 4: w8a8_micro512<4, NV, Vnni>(A, a.ld, B, g0, g1, P(m), first, last, m, n0, nvalid, a, w, o); break;
            default:
                for (std::size_t i = 0; i < rem; ++i)
                    w8a8_micro512<1, NV, Vnni>(A + i * a.ld, a.ld, B, g0, g1, P(m + i), first, last, m + i, n0, nvalid, a,
                                               w, o);
        }
        if (G == 0) break;
    }
}
#endif

#if defined(COMPRESS_X86) && defined(__AVX2__)
// AVX2 / AVX-VNNI: MR rows × one 16-channel block (two ymm halves).
template <int MR, bool Vnni>
inline void w8a8_micro256(const std::int8_t* A, std::size_t lda, const std::uint8_t* B, std::size_t gstride,
                          std::size_t groups, std::size_t m0, std::size_t n0, std::size_t nvalid,
                          const q8_activations& a, const w8a8_weights& w, const w8a8_out& o) {
    __m256i acc[MR][2];
    for (int i = 0; i < MR; ++i) acc[i][0] = acc[i][1] = _mm256_setzero_si256();
    [[maybe_unused]] const __m256i ones16 = _mm256_set1_epi16(1);
    [[maybe_unused]] const __m256i bias128 = _mm256_set1_epi8(static_cast<char>(0x80));
    for (std::size_t g = 0; g < groups; ++g) {
        const std::uint8_t* bg = B + g * gstride;
        __m256i b[2] = {_mm256_load_si256(reinterpret_cast<const __m256i*>(bg)),
                        _mm256_load_si256(reinterpret_cast<const __m256i*>(bg + 32))};
        if constexpr (Vnni) {
#if COMPRESS_HAS_AVXVNNI
            for (int i = 0; i < MR; ++i) {
                const __m256i av = _mm256_set1_epi32(load_i32(A + static_cast<std::size_t>(i) * lda + 4 * g));
                acc[i][0] = _mm256_dpbusd_avx_epi32(acc[i][0], b[0], av);
                acc[i][1] = _mm256_dpbusd_avx_epi32(acc[i][1], b[1], av);
            }
#endif
        } else {
            const __m256i s0 = _mm256_xor_si256(b[0], bias128), s1 = _mm256_xor_si256(b[1], bias128);
            const __m256i u0 = _mm256_abs_epi8(s0), u1 = _mm256_abs_epi8(s1);
            for (int i = 0; i < MR; ++i) {
                const __m256i av = _mm256_set1_epi32(load_i32(A + static_cast<std::size_t>(i) * lda + 4 * g));
                const __m256i p0 = _mm256_maddubs_epi16(u0, _mm256_sign_epi8(av, s0));
                const __m256i p1 = _mm256_maddubs_epi16(u1, _mm256_sign_epi8(av, s1));
                acc[i][0] = _mm256_add_epi32(acc[i][0], _mm256_madd_epi16(p0, ones16));
                acc[i][1] = _mm256_add_epi32(acc[i][1], _mm256_madd_epi16(p1, ones16));
            }
        }
    }
    for (int i = 0; i < MR; ++i) {
        alignas(32) std::int32_t t[16];
        _mm256_store_si256(reinterpret_cast<__m256i*>(t), acc[i][0]);
        _mm256_store_si256(reinterpret_cast<__m256i*>(t + 8), acc[i][1]);
        w8a8_store_scalar(t, std::min<std::size_t>(16, nvalid), m0 + static_cast<std::size_t>(i), n0, a, w, o, Vnni);
    }
}

template <bool Vnni>
inline void w8a8_panel256(const q8_activations& a, const w8a8_weights& w, std::size_t p, const w8a8_out& o) {
    constexpr int MR = 4;
    const std::size_t nch = w.panel_channels(p), nv = nch / 16;
    const std::size_t G = w.groups();
    for (std::size_t b = 0; b < nv; ++b) {
        const std::uint8_t* B = w.data.data() + w.panel_offset(p) + b * 64;
        const std::size_t n0 = 64 * p + 16 * b;
        if (n0 >= w.n) break;
        const std::size_t nvalid = std::min<std::size_t>(16, w.n - n0);
        std::size_t m = 0;
        for (; m + MR <= a.rows; m += MR)
            w8a8_micro256<MR, Vnni>(a.codes.data() + m * a.ld, a.ld, B, nv * 64, G, m, n0, nvalid, a, w, o);
        for (; m < a.rows; ++m)
            w8a8_micro256<1, Vnni>(a.codes.data() + m * a.ld, a.ld, B, nv * 64, G, m, n0, nvalid, a, w, o);
    }
}
#endif

inline void w8a8_panel_scalar(const q8_activations& a, const w8a8_weights& w, std::size_t p, const w8a8_out& o) {
    const std::size_t nch = w.panel_channels(p), nv = nch / 16;
    const std::uint8_t* P = w.data.data() + w.panel_offset(p);
    std::int32_t raw[64];
    for (std::size_t m = 0; m < a.rows; ++m) {
        const std::int8_t* ar = a.codes.data() + m * a.ld;
        for (std::size_t c = 0; c < nch; ++c) raw[c] = 0;
        for (std::size_t g = 0; g < w.groups(); ++g) {
            const std::uint8_t* bg = P + g * nv * 64;
            for (std::size_t c = 0; c < nch; ++c) {
                const std::uint8_t* bc = bg + (c / 16) * 64 + (c % 16) * 4;
                std::int32_t s = 0;
                for (std::size_t j = 0; j < 4; ++j)
                    s += static_cast<std::int32_t>(ar[4 * g + j]) * (static_cast<std::int32_t>(bc[j]) - 128);
                raw[c] = wrap_add(raw[c], s);
            }
        }
        const std::size_t n0 = 64 * p;
        w8a8_store_scalar(raw, std::min<std::size_t>(nch, w.n - n0), m, n0, a, w, o, false);
    }
}

/// The W8A8 driver: panels of 64 channels (threads split panels; each output is summed by
/// one thread in a fixed order, so results do not depend on the thread count).
template <class Arch = xsimd::default_arch, class Ext = lowbit_ext_default>
void w8a8_run(const q8_activations& a, const w8a8_weights& w, const w8a8_out& o) {
    constexpr int_path path = int8_path<Arch, Ext>();
    const std::size_t P = w.panels();
    if (a.rows == 0 || w.n == 0) return;
    COMPRESS_OMP_FOR
    for (std::ptrdiff_t pi = 0; pi < static_cast<std::ptrdiff_t>(P); ++pi) {
        const auto p = static_cast<std::size_t>(pi);
        if constexpr (path == int_path::vnni512 || path == int_path::avx512bw) {
#if defined(COMPRESS_X86) && defined(__AVX512BW__)
            constexpr bool vnni = path == int_path::vnni512;
            switch (w.panel_channels(p) / 16) {
                case 4: w8a8_panel512<vnni, 4>(a, w, p, o); break;
                case 3: w8a8_panel512<vnni, 3>(a, w, p, o); break;
                case 2: w8a8_panel512<vnni, 2>(a, w, p, o); break;
                default: w8a8_panel512<vnni, 1>(a, w, p, o); break;
            }
#endif
        } else if constexpr (path == int_path::avxvnni || path == int_path::avx2) {
#if defined(COMPRESS_X86) && defined(__AVX2__)
            w8a8_panel256<path == int_path::avxvnni>(a, w, p, o);
#endif
        } else {
            w8a8_panel_scalar(a, w, p, o);
        }
    }
}

/// Exact int32 sums C[m, n] = Σ_k qa[m,k] · (qw[n,k] − zw[n]) (row stride ldc).
template <class Arch = xsimd::default_arch, class Ext = lowbit_ext_default>
void w8a8_gemm_s32(const q8_activations& a, const w8a8_weights& w, std::int32_t* C, std::size_t ldc) {
    w8a8_out o;
    o.acc = C;
    o.ldc = ldc;
    w8a8_run<Arch, Ext>(a, w, o);
}

/// Y[m, n] = sa[m] · sw[n] · C[m, n] + bias[n] (bias may be null; row stride ldy).
template <class Arch = xsimd::default_arch, class Ext = lowbit_ext_default>
void w8a8_gemm(const q8_activations& a, const w8a8_weights& w, const float* bias, float* Y, std::size_t ldy) {
    w8a8_out o;
    o.y = Y;
    o.bias = bias;
    o.ldc = ldy;
    w8a8_run<Arch, Ext>(a, w, o);
}

// ======================================================================================
// Weight-only int8 (and the shared fp32 machinery of weight-only int4)
// ======================================================================================

/// Group scales of a weight-only layer: scale of (row n, group g) is s[n · row_stride + g]
/// (row_stride 0: one row of scales shared by every channel, i.e. per-tensor).
template <class S>
struct group_scales {
    const S* s = nullptr;
    std::size_t group = 0;       ///< G (K for per-channel / per-tensor)
    std::size_t row_stride = 0;  ///< ceil(K / G) per channel, or 0
    float at(std::size_t n, std::size_t g) const noexcept { return scale_at(s, n * row_stride + g); }
    /// Scales of groups g .. g+cnt-1 of row n, as floats (fp16: batch-converted).
    void row(std::size_t n, std::size_t g, std::size_t cnt, float* out) const noexcept {
        scales_to_float(s, n * row_stride + g, cnt, out);
    }
};

/// Groups whose scales the GEMV kernels convert at once (a small stack block per 4 rows).
inline constexpr std::size_t gemv_scale_block = 16;


/// Σ over a block of float rows: C[m, n] = Σ_k A[m,k]·Bd[n,k] (B dequantized, row-major, ldb),
/// register-blocked 4×4 with xsimd, vectorized along k. Used by the weight-only GEMM paths.
template <class Arch>
void dot_block_f32(const float* A, std::size_t lda, std::size_t M, const float* Bd, std::size_t ldb, std::size_t N,
                   std::size_t K, const float* bias, float* Y, std::size_t ldy, std::size_t n_off) {
    std::size_t kv = 0;
    if constexpr (!is_scalar_arch_v<Arch>) {
        using B = xsimd::batch<float, Arch>;
        constexpr std::size_t W = B::size;
        kv = K / W * W;
        std::size_t m = 0;
        for (; m < M; m += 4) {
            const std::size_t mr = std::min<std::size_t>(4, M - m);
            for (std::size_t n = 0; n < N; n += 4) {
                const std::size_t nr = std::min<std::size_t>(4, N - n);
                B acc[4][4];
                for (auto& r : acc)
                    for (auto& v : r) v = B(0.0f);
                const float* a[4];
                const float* b[4];
                for (std::size_t i = 0; i < 4; ++i) a[i] = A + (m + std::min(i, mr - 1)) * lda;
                for (std::size_t j = 0; j < 4; ++j) b[j] = Bd + (n + std::min(j, nr - 1)) * ldb;
                for (std::size_t k = 0; k < kv; k += W) {
                    B av[4], bv[4];
                    for (std::size_t i = 0; i < 4; ++i) av[i] = B::load_unaligned(a[i] + k);
                    for (std::size_t j = 0; j < 4; ++j) bv[j] = B::load_unaligned(b[j] + k);
                    for (std::size_t i = 0; i < 4; ++i)
                        for (std::size_t j = 0; j < 4; ++j) acc[i][j] = xsimd::fma(av[i], bv[j], acc[i][j]);
                }
                for (std::size_t i = 0; i < mr; ++i) {
                    for (std::size_t j = 0; j < nr; ++j) {
                        float s = xsimd::hadd(acc[i][j]);
                        for (std::size_t k = kv; k < K; ++k) s += a[i][k] * b[j][k];
                        Y[(m + i) * ldy + n + j] = s + (bias ? bias[n_off + n + j] : 0.0f);
                    }
                }
            }
        }
        return;
    }
    for (std::size_t m = 0; m < M; ++m) {
        for (std::size_t n = 0; n < N; ++n) {
            float s = 0.0f;
            for (std::size_t k = 0; k < K; ++k) s += A[m * lda + k] * Bd[n * ldb + k];
            Y[m * ldy + n] = s + (bias ? bias[n_off + n] : 0.0f);
        }
    }
}

/// Decodes row n of int8 codes to fp32 with its group scales: out[k] = s[n, k/G] · q[n, k].
template <class S>
inline void dequant_row_s8(const std::int8_t* q, std::size_t K, const group_scales<S>& gs, std::size_t n,
                           float* out) noexcept {
    for (std::size_t k0 = 0, g = 0; k0 < K; k0 += gs.group, ++g) {
        const float s = gs.at(n, g);
        const std::size_t k1 = std::min(K, k0 + gs.group);
        for (std::size_t k = k0; k < k1; ++k) out[k] = s * static_cast<float>(q[k]);
    }
}

// --------------------------------------------------------------------------------------
// One weight-only GEMV body for every vector width: `wo_vec<Arch>` names the vector type
// and the handful of operations the kernels need (AVX-512: 16 floats, AVX2 + FMA: 8);
// `void` when the arch has no fast path (scalar, SSE2), which then runs the plain loops.
// --------------------------------------------------------------------------------------

#if defined(COMPRESS_X86) && defined(__AVX512BW__)
struct wo_vec512 {
    using vf = __m512;
    using vi = __m512i;
    static constexpr std::size_t W = 16;  ///< floats per vector
    static constexpr std::size_t R8 = 8;  ///< int8 GEMV: rows per block (x loads shared by 8 rows)
    static constexpr std::size_t U8 = 4;  ///< int8 GEMV: vectors per row per step
    static constexpr std::size_t R4 = 2;  ///< int4 GEMV: rows per block
    static vf zero() noexcept { return _mm512_setzero_ps(); }
    static vf set1(float v) noexcept { return _mm512_set1_ps(v); }
    static vf load(const float* p) noexcept { return _mm512_loadu_ps(p); }
    static void store(float* p, vf v) noexcept { _mm512_storeu_ps(p, v); }
    static vf add(vf a, vf b) noexcept { return _mm512_add_ps(a, b); }
    static vf mul(vf a, vf b) noexcept { return _mm512_mul_ps(a, b); }
    static vf fma(vf a, vf b, vf c) noexcept { return _mm512_fmadd_ps(a, b, c); }
    static float hsum(vf v) noexcept { return hsum512(v); }
    /// W int8 codes → fp32.
    static vf s8(const std::int8_t* p) noexcept {
        return _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p))));
    }
    /// 4W bytes of packed nibbles: dword j holds elements 8j .. 8j+7 (nibble i = element 8j+i).
    static vi nibbles(const std::uint8_t* p) noexcept { return _mm512_loadu_si512(p); }
    /// The first `nbytes` (< 4W) bytes, zero beyond.
    static vi nibbles_partial(const std::uint8_t* p, std::size_t nbytes) noexcept {
        return _mm512_maskz_loadu_epi8((nbytes >= 64 ? ~0ull : (1ull << nbytes) - 1ull), p);
    }
    /// Nibble I of every dword as the fp32 value of its 4-bit two's complement code: vpermps reads
    /// only the low 4 bits of each index, so the shifted dword indexes the table of 0..7, -8..-1.
    template <int I>
    static vf nib(vi v) noexcept {
        const __m512 table = _mm512_setr_ps(0, 1, 2, 3, 4, 5, 6, 7, -8, -7, -6, -5, -4, -3, -2, -1);
        if constexpr (I == 0) return _mm512_permutexvar_ps(v, table);
        else return _mm512_permutexvar_ps(_mm512_srli_epi32(v, 4 * I), table);
    }
    static vi load_idx(const std::int32_t* p) noexcept { return _mm512_loadu_si512(p); }
    /// lane j ← s[idx[j]]
    static vf permute(vi idx, vf s) noexcept { return _mm512_permutexvar_ps(idx, s); }
    /// Group scales p[0 .. W) as fp32, of which `avail` (>= 1) exist: lanes past them are 0 and
    /// nothing past them is read (masked loads). fp16 through F16C: bit-identical to
    /// fp16_to_float except that a signalling NaN comes out quiet.
    static vf scales(const float* p, std::size_t avail) noexcept {
        return _mm512_maskz_loadu_ps(avail >= 16 ? static_cast<__mmask16>(0xFFFF) : static_cast<__mmask16>((1u << avail) - 1u), p);
    }
    static vf scales(const std::uint16_t* p, std::size_t avail) noexcept {
        const __mmask16 m = avail >= 16 ? static_cast<__mmask16>(0xFFFF) : static_cast<__mmask16>((1u << avail) - 1u);
        return _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, p));
    }
};
#endif

#if defined(COMPRESS_X86) && defined(__AVX2__) && defined(__FMA__)
struct wo_vec256 {
    using vf = __m256;
    using vi = __m256i;
    static constexpr std::size_t W = 8;
    static constexpr std::size_t R8 = 4;  // 16 ymm registers: 4 rows × (group sum + total) + x
    static constexpr std::size_t U8 = 2;
    static constexpr std::size_t R4 = 2;
    static vf zero() noexcept { return _mm256_setzero_ps(); }
    static vf set1(float v) noexcept { return _mm256_set1_ps(v); }
    static vf load(const float* p) noexcept { return _mm256_loadu_ps(p); }
    static void store(float* p, vf v) noexcept { _mm256_storeu_ps(p, v); }
    static vf add(vf a, vf b) noexcept { return _mm256_add_ps(a, b); }
    static vf mul(vf a, vf b) noexcept { return _mm256_mul_ps(a, b); }
    static vf fma(vf a, vf b, vf c) noexcept { return _mm256_fmadd_ps(a, b, c); }
    static float hsum(vf v) noexcept { return hsum256(v); }
    static vf s8(const std::int8_t* p) noexcept {
        return _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p))));
    }
    static vi nibbles(const std::uint8_t* p) noexcept { return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)); }
    static vi nibbles_partial(const std::uint8_t* p, std::size_t nbytes) noexcept {
        alignas(32) std::uint8_t t[32] = {};
        std::memcpy(t, p, std::min<std::size_t>(nbytes, 32));
        return _mm256_load_si256(reinterpret_cast<const __m256i*>(t));
    }
    /// Nibble I sign-extended by a shift pair (no 16-entry permute on AVX2), then converted.
    template <int I>
    static vf nib(vi v) noexcept {
        if constexpr (I == 7) return _mm256_cvtepi32_ps(_mm256_srai_epi32(v, 28));
        else return _mm256_cvtepi32_ps(_mm256_srai_epi32(_mm256_slli_epi32(v, 28 - 4 * I), 28));
    }
    static vi load_idx(const std::int32_t* p) noexcept { return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)); }
    static vf permute(vi idx, vf s) noexcept { return _mm256_permutevar8x32_ps(s, idx); }
    static vf scales(const float* p, std::size_t avail) noexcept {
        if (avail >= 8) return _mm256_loadu_ps(p);
        const __m256i m = _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(avail)), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
        return _mm256_maskload_ps(p, m);
    }
    static vf scales(const std::uint16_t* p, std::size_t avail) noexcept {
        alignas(32) float t[8] = {};
#if defined(__F16C__)
        if (avail >= 8) return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
#endif
        for (std::size_t i = 0; i < std::min<std::size_t>(avail, 8); ++i) t[i] = fp16_to_float(p[i]);
        return _mm256_load_ps(t);
    }
};
#endif

template <class Arch>
constexpr auto wo_vec_pick() noexcept {
    constexpr int_path p = int8_path<Arch, lowbit_ext_none>();
    if constexpr (p == int_path::avx512bw) {
#if defined(COMPRESS_X86) && defined(__AVX512BW__)
        return static_cast<wo_vec512*>(nullptr);
#else
        return static_cast<void*>(nullptr);
#endif
    } else if constexpr (p == int_path::avx2) {
#if defined(COMPRESS_X86) && defined(__AVX2__) && defined(__FMA__)
        return static_cast<wo_vec256*>(nullptr);
#else
        return static_cast<void*>(nullptr);
#endif
    } else {
        return static_cast<void*>(nullptr);
    }
}
template <class Arch>
using wo_vec = std::remove_pointer_t<decltype(wo_vec_pick<Arch>())>;

/// Plain loop over groups [g, end) of rows n0 .. n0+nr-1, adding into tot (every path's tail).
template <class S>
inline void s8_rows_tail(const float* x, const std::int8_t* w, std::size_t ldw, std::size_t K, std::size_t n0,
                         std::size_t nr, std::size_t g, const group_scales<S>& gs, float* tot) noexcept {
    const std::size_t G = gs.group;
    for (std::size_t k0 = g * G; k0 < K; k0 += G, ++g) {
        const std::size_t k1 = std::min(K, k0 + G);
        for (std::size_t r = 0; r < nr; ++r) {
            const std::int8_t* wr = w + (n0 + r) * ldw;
            float s = 0.0f;
            for (std::size_t k = k0; k < k1; ++k) s += static_cast<float>(wr[k]) * x[k];
            tot[r] += gs.at(n0 + r, g) * s;
        }
    }
}

/// t[r] += Σ_{g ∈ [g0, g0 + gb)} sc[r][g − g0] · Σ_{k∈g} q[r][k] · x[k] for the R rows wr[r]
/// (G a multiple of W). Kept out of line: inlined into the row loop, g++ 12 spills the
/// accumulators (a load and a store per FMA, 1.4× slower).
template <class V, std::size_t R>
__attribute__((noinline)) void s8_groups_dot(const float* x, const std::int8_t* const* wr, std::size_t g0,
                                             std::size_t gb, std::size_t G, const float (*sc)[gemv_scale_block],
                                             typename V::vf* t) noexcept {
    using vf = typename V::vf;
    constexpr std::size_t W = V::W, U = V::U8;
    for (std::size_t gi = 0; gi < gb; ++gi) {
        vf acc[R];
        COMPRESS_UNROLL8
        for (std::size_t r = 0; r < R; ++r) acc[r] = V::zero();
        const std::size_t k1 = (g0 + gi + 1) * G;
        std::size_t k = (g0 + gi) * G;
        for (; k + U * W <= k1; k += U * W) {
            vf xv[U];
            COMPRESS_UNROLL4
            for (std::size_t u = 0; u < U; ++u) xv[u] = V::load(x + k + u * W);
            COMPRESS_UNROLL8
            for (std::size_t r = 0; r < R; ++r) {
                COMPRESS_UNROLL4
                for (std::size_t u = 0; u < U; ++u) acc[r] = V::fma(V::s8(wr[r] + k + u * W), xv[u], acc[r]);
            }
        }
        for (; k < k1; k += W) {
            const vf xv = V::load(x + k);
            COMPRESS_UNROLL8
            for (std::size_t r = 0; r < R; ++r) acc[r] = V::fma(V::s8(wr[r] + k), xv, acc[r]);
        }
        COMPRESS_UNROLL8
        for (std::size_t r = 0; r < R; ++r) t[r] = V::fma(V::set1(sc[r][gi]), acc[r], t[r]);
    }
}

/// GEMV rows: y[n] = Σ_g s[n,g] Σ_{k∈g} q[n,k] x[k] (+ bias), V::R8 channels at a time. The
/// R8 rows share every x load (the loop is bound by vector operations, not by memory: at
/// 4096² the codes stay in the L3 cache between calls); each group sum is scaled once at the
/// end of its group. Needs G % W == 0; the partial last group runs the plain loop.
template <class V, class S>
void wo_int8_gemv_simd(const float* x, const std::int8_t* w, std::size_t N, std::size_t K, std::size_t ldw,
                       const group_scales<S>& gs, const float* bias, float* y) {
    using vf = typename V::vf;
    constexpr std::size_t R = V::R8;
    const std::size_t G = gs.group;
    const std::size_t full_groups = K / G;
    COMPRESS_OMP_FOR
    for (std::ptrdiff_t ni = 0; ni < static_cast<std::ptrdiff_t>(div_up(N, R)); ++ni) {
        const std::size_t n0 = static_cast<std::size_t>(ni) * R;
        const std::size_t nr = std::min(R, N - n0);
        const std::int8_t* wr[R];
        for (std::size_t r = 0; r < R; ++r) wr[r] = w + (n0 + std::min(r, nr - 1)) * ldw;
        vf t[R];
        for (std::size_t r = 0; r < R; ++r) t[r] = V::zero();
        float sc[R][gemv_scale_block];
        for (std::size_t g = 0; g < full_groups;) {
            const std::size_t gb = std::min(gemv_scale_block, full_groups - g);
            for (std::size_t r = 0; r < R; ++r) gs.row(n0 + std::min(r, nr - 1), g, gb, sc[r]);
            s8_groups_dot<V, R>(x, wr, g, gb, G, sc, t);
            g += gb;
        }
        float tot[R];
        for (std::size_t r = 0; r < R; ++r) tot[r] = V::hsum(t[r]);
        s8_rows_tail(x, w, ldw, K, n0, nr, full_groups, gs, tot);
        for (std::size_t r = 0; r < nr; ++r) y[n0 + r] = tot[r] + (bias ? bias[n0 + r] : 0.0f);
    }
}

/// GEMV: the vector body when Arch has one and G % W == 0, otherwise plain loops.
template <class Arch, class S>
void wo_int8_gemv(const float* x, const std::int8_t* w, std::size_t N, std::size_t K, std::size_t ldw,
                  const group_scales<S>& gs, const float* bias, float* y) {
    using V = wo_vec<Arch>;
    if constexpr (!std::is_void_v<V>) {
        if (gs.group % V::W == 0) {
            wo_int8_gemv_simd<V>(x, w, N, K, ldw, gs, bias, y);
            return;
        }
    }
    COMPRESS_OMP_FOR
    for (std::ptrdiff_t ni = 0; ni < static_cast<std::ptrdiff_t>(N); ++ni) {
        const auto n = static_cast<std::size_t>(ni);
        float tot = 0.0f;
        s8_rows_tail(x, w, ldw, K, n, 1, 0, gs, &tot);
        y[n] = tot + (bias ? bias[n] : 0.0f);
    }
}

/// Weight-only int8: Y[M, N] = X[M, K] · dequant(W)ᵀ + bias. W: int8 codes [N, K] (ldw),
/// group scales float or fp16 bits. M < 4 runs the GEMV kernel per row (memory-bound: each
/// code is read once and dequantized in registers); larger M dequantizes 16 channels at a
/// time into an fp32 scratch block reused by every row.
template <class Arch = xsimd::default_arch, class S = float>
void wo_int8_gemm(const float* X, std::size_t M, std::size_t K, std::size_t ldx, const std::int8_t* W, std::size_t N,
                  std::size_t ldw, const group_scales<S>& gs, const float* bias, float* Y, std::size_t ldy) {
    if (M == 0 || N == 0) return;
    if (M < 4) {
        for (std::size_t m = 0; m < M; ++m) wo_int8_gemv<Arch>(X + m * ldx, W, N, K, ldw, gs, bias, Y + m * ldy);
        return;
    }
    constexpr std::size_t NB = 16;
    COMPRESS_OMP_FOR
    for (std::ptrdiff_t bi = 0; bi < static_cast<std::ptrdiff_t>(div_up(N, NB)); ++bi) {
        const std::size_t n0 = static_cast<std::size_t>(bi) * NB;
        const std::size_t nb = std::min(NB, N - n0);
        aligned_vector<float> buf(nb * K);
        for (std::size_t j = 0; j < nb; ++j) dequant_row_s8(W + (n0 + j) * ldw, K, gs, n0 + j, buf.data() + j * K);
        dot_block_f32<Arch>(X, ldx, M, buf.data(), K, nb, K, bias, Y + n0, ldy, n0);
    }
}

}  // namespace compress::detail

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif
