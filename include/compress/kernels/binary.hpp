#pragma once
// Binary and ternary weights × binarized activations, by XNOR/AND + popcount.
//
// Weights use the packed layout of quantize.hpp unchanged: per row ceil(K/64) uint64 words
// (row stride wld >= that), element k = bit k%64 of word k/64, padding bits 0.
//   binary:  bit 1 = +α[n], 0 = −α[n];
//   ternary: two planes `nonzero` and `negative` (same layout): value α[n]·(nz ? (neg ? −1 : +1) : 0).
// Activations are binarized once (`bin_activations`, reusable across layers): bit k = (x ≥ 0)
// (sign with sign(0) = +1), scale β[m] = mean |x[m, :]| (XNOR-Net), padding bits 0.
//
//   binary:  D[m, n] = Σ_k a·w = K − 2·popcount(a XOR w)          (padding bits agree: 0 XOR 0)
//   ternary: D[m, n] = 2·popcount((a XOR neg) AND nz) − popcount(nz)
//   Y[m, n]  = β[m] · α[n] · D[m, n] + bias[n]
//
// D is an exact integer on every path: AVX-512 VPOPCNTDQ (vpopcntq), AVX-512BW / AVX2 nibble
// lookup (vpshufb + vpsadbw), scalar popcount.

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
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

/// Activations binarized once, fed to any number of binary / ternary layers with the same K.
struct bin_activations {
    std::size_t rows = 0, cols = 0;
    std::size_t words = 0;  ///< ceil(K / 64)
    std::size_t ld = 0;     ///< row stride in words: round_up(words, 8)
    aligned_vector<std::uint64_t> bits;
    std::vector<float> scales;  ///< β per row

    std::size_t bytes() const noexcept { return bits.size() * 8 + scales.size() * 4; }
};

/// Bits and β = mean|x| of every row of x [M, K] (row stride ldx; values finite).
template <class Arch = xsimd::default_arch>
void binarize_activations(const float* x, std::size_t M, std::size_t K, std::size_t ldx, bin_activations& out) {
    out.rows = M;
    out.cols = K;
    out.words = div_up(K, 64);
    out.ld = round_up(std::max<std::size_t>(out.words, 1), 8);
    out.bits.assign(M * out.ld, 0);
    out.scales.assign(M, 0.0f);
    COMPRESS_OMP_FOR
    for (std::ptrdiff_t mi = 0; mi < static_cast<std::ptrdiff_t>(M); ++mi) {
        const auto m = static_cast<std::size_t>(mi);
        const float* xr = x + m * ldx;
        std::uint64_t* br = out.bits.data() + m * out.ld;
        std::size_t k = 0;
        float asum = 0.0f;
#if defined(COMPRESS_X86) && defined(__AVX512BW__)
        if constexpr (is_avx512bw_v<Arch>) {
            const __m512 z = _mm512_setzero_ps();
            const __m512 absmask = _mm512_castsi512_ps(_mm512_set1_epi32(0x7FFFFFFF));
            __m512 as = _mm512_setzero_ps();
            for (; k + 64 <= K; k += 64) {
                std::uint64_t word = 0;
                for (int q = 0; q < 4; ++q) {
                    const __m512 v = _mm512_loadu_ps(xr + k + 16 * q);
                    word |= static_cast<std::uint64_t>(_mm512_cmp_ps_mask(v, z, _CMP_GE_OQ)) << (16 * q);
                    as = _mm512_add_ps(as, _mm512_and_ps(v, absmask));
                }
                br[k / 64] = word;
            }
            asum = hsum512(as);
        }
#endif
#if defined(COMPRESS_X86) && defined(__AVX2__)
        if constexpr (is_avx2_v<Arch> && !is_avx512bw_v<Arch>) {
            const __m256 z = _mm256_setzero_ps();
            const __m256 absmask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7FFFFFFF));
            __m256 as = _mm256_setzero_ps();
            for (; k + 64 <= K; k += 64) {
                std::uint64_t word = 0;
                for (int q = 0; q < 8; ++q) {
                    const __m256 v = _mm256_loadu_ps(xr + k + 8 * q);
                    word |= static_cast<std::uint64_t>(static_cast<unsigned>(_mm256_movemask_ps(_mm256_cmp_ps(v, z, _CMP_GE_OQ))))
                            << (8 * q);
                    as = _mm256_add_ps(as, _mm256_and_ps(v, absmask));
                }
                br[k / 64] = word;
            }
            asum = hsum256(as);
        }
#endif
        for (; k < K; ++k) {
            if (xr[k] >= 0.0f) br[k / 64] |= std::uint64_t(1) << (k % 64);
            asum += std::fabs(xr[k]);
        }
        out.scales[m] = K ? asum / static_cast<float>(K) : 0.0f;
    }
}

/// Binary or ternary weights as raw pointers (no copy).
struct bin_weights {
    std::size_t n = 0, k = 0;
    std::size_t wld = 0;                  ///< words per row (>= ceil(K/64))
    const std::uint64_t* bits = nullptr;  ///< binary: the sign plane; ternary: `negative`
    const std::uint64_t* nonzero = nullptr;  ///< ternary only (null for binary)
    const float* alpha = nullptr;         ///< per output channel (n_alpha == n) or one (n_alpha == 1)
    std::size_t n_alpha = 1;
};

struct bin_out {
    std::int32_t* dot = nullptr;  ///< exact D [M, N] or null
    float* y = nullptr;           ///< Y [M, N] or null
    const float* bias = nullptr;
    std::size_t ldc = 0;
};

inline void bin_store(std::size_t m, std::size_t n, std::int32_t p, std::int32_t nnz, const bin_activations& a,
                      const bin_weights& w, const bin_out& o) {
    const std::int32_t d = w.nonzero ? 2 * p - nnz : static_cast<std::int32_t>(w.k) - 2 * p;
    if (o.dot) o.dot[m * o.ldc + n] = d;
    if (o.y) {
        const float al = w.alpha[w.n_alpha == 1 ? 0 : n];
        o.y[m * o.ldc + n] = std::fma(static_cast<float>(d), a.scales[m] * al, o.bias ? o.bias[n] : 0.0f);
    }
}

#if defined(COMPRESS_X86) && defined(__AVX512BW__)
template <bool Vpopcnt>
inline __m512i popcnt512(__m512i v) noexcept {
    if constexpr (Vpopcnt) {
#if COMPRESS_HAS_VPOPCNTDQ
        return _mm512_popcnt_epi64(v);
#else
        return v;
#endif
    } else {
        const __m512i lut = _mm512_broadcast_i32x4(_mm_setr_epi8(0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4));
        const __m512i low = _mm512_set1_epi8(0x0F);
        const __m512i lo = _mm512_shuffle_epi8(lut, _mm512_and_si512(v, low));
        const __m512i hi = _mm512_shuffle_epi8(lut, _mm512_and_si512(_mm512_srli_epi16(v, 4), low));
        return _mm512_sad_epu8(_mm512_add_epi8(lo, hi), _mm512_setzero_si512());
    }
}

/// Σ of the 8 int64 lanes of each of 16 vectors, by a transpose-and-add tree (42 vector ops
/// instead of 16 full reductions of ~8 each). Takes its inputs by value: an accumulator array
/// whose address is taken is stored to memory by g++ on every step of the kernel loop.
inline __m512i pair_add(__m512i x, __m512i y) noexcept {  // lane L: x pair L, y pair L summed
    return _mm512_add_epi64(_mm512_unpacklo_epi64(x, y), _mm512_unpackhi_epi64(x, y));
}
inline __m512i quad_add(__m512i x, __m512i y) noexcept {  // 128-bit lanes (x 0+1, x 2+3, y 0+1, y 2+3)
    return _mm512_add_epi64(_mm512_shuffle_i64x2(x, y, _MM_SHUFFLE(2, 0, 2, 0)),
                            _mm512_shuffle_i64x2(x, y, _MM_SHUFFLE(3, 1, 3, 1)));
}
/// The 8 sums of a0..a7 in order, as int32.
inline __m256i reduce8_epi64(__m512i a0, __m512i a1, __m512i a2, __m512i a3, __m512i a4, __m512i a5, __m512i a6,
                             __m512i a7) noexcept {
    const __m512i q0 = quad_add(pair_add(a0, a1), pair_add(a2, a3));
    const __m512i q1 = quad_add(pair_add(a4, a5), pair_add(a6, a7));
    return _mm512_cvtepi64_epi32(quad_add(q0, q1));
}

/// Epilogue of two rows m, m+1 × 4 channels n0..n0+3 from their 8 popcounts (row-major), in
/// vectors; the same operations as bin_store lane by lane, so the results are bit-identical.
template <bool Ternary>
inline void bin_store2x4(__m256i p, std::size_t m, std::size_t n0, const std::int32_t* nnz, const bin_activations& a,
                         const bin_weights& w, const bin_out& o) noexcept {
    __m256i d;
    if constexpr (Ternary) {
        const __m128i z = _mm_loadu_si128(reinterpret_cast<const __m128i*>(nnz + n0));
        d = _mm256_sub_epi32(_mm256_add_epi32(p, p), _mm256_set_m128i(z, z));
    } else {
        d = _mm256_sub_epi32(_mm256_set1_epi32(static_cast<int>(w.k)), _mm256_add_epi32(p, p));
    }
    if (o.dot) {
        _mm_storeu_si128(reinterpret_cast<__m128i*>(o.dot + m * o.ldc + n0), _mm256_castsi256_si128(d));
        _mm_storeu_si128(reinterpret_cast<__m128i*>(o.dot + (m + 1) * o.ldc + n0), _mm256_extracti128_si256(d, 1));
    }
    if (o.y) {
        const __m128 al = w.n_alpha == 1 ? _mm_set1_ps(w.alpha[0]) : _mm_loadu_ps(w.alpha + n0);
        const __m128 bi = o.bias ? _mm_loadu_ps(o.bias + n0) : _mm_setzero_ps();
        const __m256 s = _mm256_mul_ps(_mm256_set_m128(_mm_set1_ps(a.scales[m + 1]), _mm_set1_ps(a.scales[m])),
                                       _mm256_set_m128(al, al));
        const __m256 y = _mm256_fmadd_ps(_mm256_cvtepi32_ps(d), s, _mm256_set_m128(bi, bi));
        _mm_storeu_ps(o.y + m * o.ldc + n0, _mm256_castps256_ps128(y));
        _mm_storeu_ps(o.y + (m + 1) * o.ldc + n0, _mm256_extractf128_ps(y, 1));
    }
}

#if COMPRESS_HAS_VPOPCNTDQ && defined(__GNUC__) && defined(__x86_64__)
#define COMPRESS_BIN_ASM 1
/// Binary 4 × 4 tile over `steps` (> 0) whole 8-word steps, in assembly: sums[4i + j] (16 int64)
/// = popcount(A_i XOR B_j) over the steps' words, the 16 horizontal sums by the transpose-and-add
/// tree of reduce8_epi64. Every row vector is loaded once per step (8 loads for 16 XOR /
/// VPOPCNTQ / add triples; g++ reloads the A rows for each of the 4 channels and zeroes and
/// stores the accumulators through memory). A rows are 64-byte aligned (bin_activations::ld is
/// a multiple of 8 words).
inline void bin_xor_popcnt_4x4(const std::uint64_t* const* ar, const std::uint64_t* const* br, std::size_t steps,
                               std::int64_t* sums) noexcept {
    const std::uint64_t *a0 = ar[0], *a1 = ar[1], *a2 = ar[2], *a3 = ar[3];
    const std::uint64_t *b0 = br[0], *b1 = br[1], *b2 = br[2], *b3 = br[3];
    std::size_t off = 0;
    __asm__ volatile(
        "{vpxorq %%zmm0, %%zmm0, %%zmm0|vpxorq zmm0, zmm0, zmm0}\n\t"
        "{vpxorq %%zmm1, %%zmm1, %%zmm1|vpxorq zmm1, zmm1, zmm1}\n\t"
        "{vpxorq %%zmm2, %%zmm2, %%zmm2|vpxorq zmm2, zmm2, zmm2}\n\t"
        "{vpxorq %%zmm3, %%zmm3, %%zmm3|vpxorq zmm3, zmm3, zmm3}\n\t"
        "{vpxorq %%zmm4, %%zmm4, %%zmm4|vpxorq zmm4, zmm4, zmm4}\n\t"
        "{vpxorq %%zmm5, %%zmm5, %%zmm5|vpxorq zmm5, zmm5, zmm5}\n\t"
        "{vpxorq %%zmm6, %%zmm6, %%zmm6|vpxorq zmm6, zmm6, zmm6}\n\t"
        "{vpxorq %%zmm7, %%zmm7, %%zmm7|vpxorq zmm7, zmm7, zmm7}\n\t"
        "{vpxorq %%zmm8, %%zmm8, %%zmm8|vpxorq zmm8, zmm8, zmm8}\n\t"
        "{vpxorq %%zmm9, %%zmm9, %%zmm9|vpxorq zmm9, zmm9, zmm9}\n\t"
        "{vpxorq %%zmm10, %%zmm10, %%zmm10|vpxorq zmm10, zmm10, zmm10}\n\t"
        "{vpxorq %%zmm11, %%zmm11, %%zmm11|vpxorq zmm11, zmm11, zmm11}\n\t"
        "{vpxorq %%zmm12, %%zmm12, %%zmm12|vpxorq zmm12, zmm12, zmm12}\n\t"
        "{vpxorq %%zmm13, %%zmm13, %%zmm13|vpxorq zmm13, zmm13, zmm13}\n\t"
        "{vpxorq %%zmm14, %%zmm14, %%zmm14|vpxorq zmm14, zmm14, zmm14}\n\t"
        "{vpxorq %%zmm15, %%zmm15, %%zmm15|vpxorq zmm15, zmm15, zmm15}\n\t"
        ".p2align 4\n\t"
        "1:\n\t"
        "{vmovdqa64 (%[a0],%[off]), %%zmm16|vmovdqa64 zmm16, [%[a0]+%[off]]}\n\t"
        "{vmovdqa64 (%[a1],%[off]), %%zmm17|vmovdqa64 zmm17, [%[a1]+%[off]]}\n\t"
        "{vmovdqa64 (%[a2],%[off]), %%zmm18|vmovdqa64 zmm18, [%[a2]+%[off]]}\n\t"
        "{vmovdqa64 (%[a3],%[off]), %%zmm19|vmovdqa64 zmm19, [%[a3]+%[off]]}\n\t"
        "{vmovdqu64 (%[b0],%[off]), %%zmm20|vmovdqu64 zmm20, [%[b0]+%[off]]}\n\t"
        "{vmovdqu64 (%[b1],%[off]), %%zmm21|vmovdqu64 zmm21, [%[b1]+%[off]]}\n\t"
        "{vmovdqu64 (%[b2],%[off]), %%zmm22|vmovdqu64 zmm22, [%[b2]+%[off]]}\n\t"
        "{vmovdqu64 (%[b3],%[off]), %%zmm23|vmovdqu64 zmm23, [%[b3]+%[off]]}\n\t"
        "{vpxorq %%zmm20, %%zmm16, %%zmm24|vpxorq zmm24, zmm16, zmm20}\n\t"
        "{vpopcntq %%zmm24, %%zmm24|vpopcntq zmm24, zmm24}\n\t"
        "{vpaddq %%zmm24, %%zmm0, %%zmm0|vpaddq zmm0, zmm0, zmm24}\n\t"
        "{vpxorq %%zmm21, %%zmm16, %%zmm25|vpxorq zmm25, zmm16, zmm21}\n\t"
        "{vpopcntq %%zmm25, %%zmm25|vpopcntq zmm25, zmm25}\n\t"
        "{vpaddq %%zmm25, %%zmm1, %%zmm1|vpaddq zmm1, zmm1, zmm25}\n\t"
        "{vpxorq %%zmm22, %%zmm16, %%zmm26|vpxorq zmm26, zmm16, zmm22}\n\t"
        "{vpopcntq %%zmm26, %%zmm26|vpopcntq zmm26, zmm26}\n\t"
        "{vpaddq %%zmm26, %%zmm2, %%zmm2|vpaddq zmm2, zmm2, zmm26}\n\t"
        "{vpxorq %%zmm23, %%zmm16, %%zmm27|vpxorq zmm27, zmm16, zmm23}\n\t"
        "{vpopcntq %%zmm27, %%zmm27|vpopcntq zmm27, zmm27}\n\t"
        "{vpaddq %%zmm27, %%zmm3, %%zmm3|vpaddq zmm3, zmm3, zmm27}\n\t"
        "{vpxorq %%zmm20, %%zmm17, %%zmm28|vpxorq zmm28, zmm17, zmm20}\n\t"
        "{vpopcntq %%zmm28, %%zmm28|vpopcntq zmm28, zmm28}\n\t"
        "{vpaddq %%zmm28, %%zmm4, %%zmm4|vpaddq zmm4, zmm4, zmm28}\n\t"
        "{vpxorq %%zmm21, %%zmm17, %%zmm29|vpxorq zmm29, zmm17, zmm21}\n\t"
        "{vpopcntq %%zmm29, %%zmm29|vpopcntq zmm29, zmm29}\n\t"
        "{vpaddq %%zmm29, %%zmm5, %%zmm5|vpaddq zmm5, zmm5, zmm29}\n\t"
        "{vpxorq %%zmm22, %%zmm17, %%zmm30|vpxorq zmm30, zmm17, zmm22}\n\t"
        "{vpopcntq %%zmm30, %%zmm30|vpopcntq zmm30, zmm30}\n\t"
        "{vpaddq %%zmm30, %%zmm6, %%zmm6|vpaddq zmm6, zmm6, zmm30}\n\t"
        "{vpxorq %%zmm23, %%zmm17, %%zmm31|vpxorq zmm31, zmm17, zmm23}\n\t"
        "{vpopcntq %%zmm31, %%zmm31|vpopcntq zmm31, zmm31}\n\t"
        "{vpaddq %%zmm31, %%zmm7, %%zmm7|vpaddq zmm7, zmm7, zmm31}\n\t"
        "{vpxorq %%zmm20, %%zmm18, %%zmm24|vpxorq zmm24, zmm18, zmm20}\n\t"
        "{vpopcntq %%zmm24, %%zmm24|vpopcntq zmm24, zmm24}\n\t"
        "{vpaddq %%zmm24, %%zmm8, %%zmm8|vpaddq zmm8, zmm8, zmm24}\n\t"
        "{vpxorq %%zmm21, %%zmm18, %%zmm25|vpxorq zmm25, zmm18, zmm21}\n\t"
        "{vpopcntq %%zmm25, %%zmm25|vpopcntq zmm25, zmm25}\n\t"
        "{vpaddq %%zmm25, %%zmm9, %%zmm9|vpaddq zmm9, zmm9, zmm25}\n\t"
        "{vpxorq %%zmm22, %%zmm18, %%zmm26|vpxorq zmm26, zmm18, zmm22}\n\t"
        "{vpopcntq %%zmm26, %%zmm26|vpopcntq zmm26, zmm26}\n\t"
        "{vpaddq %%zmm26, %%zmm10, %%zmm10|vpaddq zmm10, zmm10, zmm26}\n\t"
        "{vpxorq %%zmm23, %%zmm18, %%zmm27|vpxorq zmm27, zmm18, zmm23}\n\t"
        "{vpopcntq %%zmm27, %%zmm27|vpopcntq zmm27, zmm27}\n\t"
        "{vpaddq %%zmm27, %%zmm11, %%zmm11|vpaddq zmm11, zmm11, zmm27}\n\t"
        "{vpxorq %%zmm20, %%zmm19, %%zmm28|vpxorq zmm28, zmm19, zmm20}\n\t"
        "{vpopcntq %%zmm28, %%zmm28|vpopcntq zmm28, zmm28}\n\t"
        "{vpaddq %%zmm28, %%zmm12, %%zmm12|vpaddq zmm12, zmm12, zmm28}\n\t"
        "{vpxorq %%zmm21, %%zmm19, %%zmm29|vpxorq zmm29, zmm19, zmm21}\n\t"
        "{vpopcntq %%zmm29, %%zmm29|vpopcntq zmm29, zmm29}\n\t"
        "{vpaddq %%zmm29, %%zmm13, %%zmm13|vpaddq zmm13, zmm13, zmm29}\n\t"
        "{vpxorq %%zmm22, %%zmm19, %%zmm30|vpxorq zmm30, zmm19, zmm22}\n\t"
        "{vpopcntq %%zmm30, %%zmm30|vpopcntq zmm30, zmm30}\n\t"
        "{vpaddq %%zmm30, %%zmm14, %%zmm14|vpaddq zmm14, zmm14, zmm30}\n\t"
        "{vpxorq %%zmm23, %%zmm19, %%zmm31|vpxorq zmm31, zmm19, zmm23}\n\t"
        "{vpopcntq %%zmm31, %%zmm31|vpopcntq zmm31, zmm31}\n\t"
        "{vpaddq %%zmm31, %%zmm15, %%zmm15|vpaddq zmm15, zmm15, zmm31}\n\t"
        "{add $64, %[off]|add %[off], 64}\n\t"
        "dec %[n]\n\t"
        "jnz 1b\n\t"
        "{vpunpcklqdq %%zmm1, %%zmm0, %%zmm24|vpunpcklqdq zmm24, zmm0, zmm1}\n\t"
        "{vpunpckhqdq %%zmm1, %%zmm0, %%zmm25|vpunpckhqdq zmm25, zmm0, zmm1}\n\t"
        "{vpaddq %%zmm25, %%zmm24, %%zmm16|vpaddq zmm16, zmm24, zmm25}\n\t"
        "{vpunpcklqdq %%zmm3, %%zmm2, %%zmm24|vpunpcklqdq zmm24, zmm2, zmm3}\n\t"
        "{vpunpckhqdq %%zmm3, %%zmm2, %%zmm25|vpunpckhqdq zmm25, zmm2, zmm3}\n\t"
        "{vpaddq %%zmm25, %%zmm24, %%zmm17|vpaddq zmm17, zmm24, zmm25}\n\t"
        "{vpunpcklqdq %%zmm5, %%zmm4, %%zmm24|vpunpcklqdq zmm24, zmm4, zmm5}\n\t"
        "{vpunpckhqdq %%zmm5, %%zmm4, %%zmm25|vpunpckhqdq zmm25, zmm4, zmm5}\n\t"
        "{vpaddq %%zmm25, %%zmm24, %%zmm18|vpaddq zmm18, zmm24, zmm25}\n\t"
        "{vpunpcklqdq %%zmm7, %%zmm6, %%zmm24|vpunpcklqdq zmm24, zmm6, zmm7}\n\t"
        "{vpunpckhqdq %%zmm7, %%zmm6, %%zmm25|vpunpckhqdq zmm25, zmm6, zmm7}\n\t"
        "{vpaddq %%zmm25, %%zmm24, %%zmm19|vpaddq zmm19, zmm24, zmm25}\n\t"
        "{vpunpcklqdq %%zmm9, %%zmm8, %%zmm24|vpunpcklqdq zmm24, zmm8, zmm9}\n\t"
        "{vpunpckhqdq %%zmm9, %%zmm8, %%zmm25|vpunpckhqdq zmm25, zmm8, zmm9}\n\t"
        "{vpaddq %%zmm25, %%zmm24, %%zmm20|vpaddq zmm20, zmm24, zmm25}\n\t"
        "{vpunpcklqdq %%zmm11, %%zmm10, %%zmm24|vpunpcklqdq zmm24, zmm10, zmm11}\n\t"
        "{vpunpckhqdq %%zmm11, %%zmm10, %%zmm25|vpunpckhqdq zmm25, zmm10, zmm11}\n\t"
        "{vpaddq %%zmm25, %%zmm24, %%zmm21|vpaddq zmm21, zmm24, zmm25}\n\t"
        "{vpunpcklqdq %%zmm13, %%zmm12, %%zmm24|vpunpcklqdq zmm24, zmm12, zmm13}\n\t"
        "{vpunpckhqdq %%zmm13, %%zmm12, %%zmm25|vpunpckhqdq zmm25, zmm12, zmm13}\n\t"
        "{vpaddq %%zmm25, %%zmm24, %%zmm22|vpaddq zmm22, zmm24, zmm25}\n\t"
        "{vpunpcklqdq %%zmm15, %%zmm14, %%zmm24|vpunpcklqdq zmm24, zmm14, zmm15}\n\t"
        "{vpunpckhqdq %%zmm15, %%zmm14, %%zmm25|vpunpckhqdq zmm25, zmm14, zmm15}\n\t"
        "{vpaddq %%zmm25, %%zmm24, %%zmm23|vpaddq zmm23, zmm24, zmm25}\n\t"
        "{vshufi64x2 $0x88, %%zmm17, %%zmm16, %%zmm24|vshufi64x2 zmm24, zmm16, zmm17, 0x88}\n\t"
        "{vshufi64x2 $0xDD, %%zmm17, %%zmm16, %%zmm25|vshufi64x2 zmm25, zmm16, zmm17, 0xDD}\n\t"
        "{vpaddq %%zmm25, %%zmm24, %%zmm0|vpaddq zmm0, zmm24, zmm25}\n\t"
        "{vshufi64x2 $0x88, %%zmm19, %%zmm18, %%zmm24|vshufi64x2 zmm24, zmm18, zmm19, 0x88}\n\t"
        "{vshufi64x2 $0xDD, %%zmm19, %%zmm18, %%zmm25|vshufi64x2 zmm25, zmm18, zmm19, 0xDD}\n\t"
        "{vpaddq %%zmm25, %%zmm24, %%zmm1|vpaddq zmm1, zmm24, zmm25}\n\t"
        "{vshufi64x2 $0x88, %%zmm21, %%zmm20, %%zmm24|vshufi64x2 zmm24, zmm20, zmm21, 0x88}\n\t"
        "{vshufi64x2 $0xDD, %%zmm21, %%zmm20, %%zmm25|vshufi64x2 zmm25, zmm20, zmm21, 0xDD}\n\t"
        "{vpaddq %%zmm25, %%zmm24, %%zmm2|vpaddq zmm2, zmm24, zmm25}\n\t"
        "{vshufi64x2 $0x88, %%zmm23, %%zmm22, %%zmm24|vshufi64x2 zmm24, zmm22, zmm23, 0x88}\n\t"
        "{vshufi64x2 $0xDD, %%zmm23, %%zmm22, %%zmm25|vshufi64x2 zmm25, zmm22, zmm23, 0xDD}\n\t"
        "{vpaddq %%zmm25, %%zmm24, %%zmm3|vpaddq zmm3, zmm24, zmm25}\n\t"
        "{vshufi64x2 $0x88, %%zmm1, %%zmm0, %%zmm24|vshufi64x2 zmm24, zmm0, zmm1, 0x88}\n\t"
        "{vshufi64x2 $0xDD, %%zmm1, %%zmm0, %%zmm25|vshufi64x2 zmm25, zmm0, zmm1, 0xDD}\n\t"
        "{vpaddq %%zmm25, %%zmm24, %%zmm4|vpaddq zmm4, zmm24, zmm25}\n\t"
        "{vshufi64x2 $0x88, %%zmm3, %%zmm2, %%zmm24|vshufi64x2 zmm24, zmm2, zmm3, 0x88}\n\t"
        "{vshufi64x2 $0xDD, %%zmm3, %%zmm2, %%zmm25|vshufi64x2 zmm25, zmm2, zmm3, 0xDD}\n\t"
        "{vpaddq %%zmm25, %%zmm24, %%zmm5|vpaddq zmm5, zmm24, zmm25}\n\t"
        "{vmovdqu64 %%zmm4, 0(%[c])|vmovdqu64 [%[c]], zmm4}\n\t"
        "{vmovdqu64 %%zmm5, 64(%[c])|vmovdqu64 [%[c]+64], zmm5}\n\t"
        : [off] "+r"(off), [n] "+r"(steps)
        : [c] "r"(sums), [a0] "r"(a0), [a1] "r"(a1), [a2] "r"(a2), [a3] "r"(a3), [b0] "r"(b0), [b1] "r"(b1),
          [b2] "r"(b2), [b3] "r"(b3)
        : "memory", "cc", "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9", "xmm10", "xmm11", "xmm12", "xmm13", "xmm14", "xmm15", "xmm16", "xmm17", "xmm18", "xmm19", "xmm20", "xmm21", "xmm22", "xmm23", "xmm24", "xmm25", "xmm26", "xmm27", "xmm28", "xmm29", "xmm30", "xmm31");
}
#else
#define COMPRESS_BIN_ASM 0
#endif

template <int MR, int NR, bool Ternary, bool Vpopcnt>
inline void bin_micro512(const bin_activations& a, const bin_weights& w, std::size_t m0, std::size_t n0,
                         const std::int32_t* nnz, const bin_out& o) {
    __m512i acc[MR][NR];
    for (int i = 0; i < MR; ++i)
        for (int j = 0; j < NR; ++j) acc[i][j] = _mm512_setzero_si512();
    const std::uint64_t* ar[MR];
    const std::uint64_t* br[NR];
    [[maybe_unused]] const std::uint64_t* zr[NR];
    for (int i = 0; i < MR; ++i) ar[i] = a.bits.data() + (m0 + static_cast<std::size_t>(i)) * a.ld;
    for (int j = 0; j < NR; ++j) {
        br[j] = w.bits + (n0 + static_cast<std::size_t>(j)) * w.wld;
        if constexpr (Ternary) zr[j] = w.nonzero + (n0 + static_cast<std::size_t>(j)) * w.wld;
    }
    const std::size_t W = a.words;
#if COMPRESS_BIN_ASM
    if constexpr (MR == 4 && NR == 4 && !Ternary && Vpopcnt) {
        if (W % 8 == 0 && W > 0) {  // whole steps only (the masked tail step stays below)
            alignas(64) std::int64_t sums[16];
            bin_xor_popcnt_4x4(ar, br, W / 8, sums);
            bin_store2x4<Ternary>(_mm512_cvtepi64_epi32(_mm512_load_si512(sums)), m0, n0, nnz, a, w, o);
            bin_store2x4<Ternary>(_mm512_cvtepi64_epi32(_mm512_load_si512(sums + 8)), m0 + 2, n0, nnz, a, w, o);
            return;
        }
    }
#endif
    // 8-word steps (the last one masked to the row's words)
    for (std::size_t q = 0; q < W; q += 8) {
        const __mmask8 km = W - q >= 8 ? static_cast<__mmask8>(0xFF) : static_cast<__mmask8>((1u << (W - q)) - 1u);
        __m512i av[MR], bv[NR];
        [[maybe_unused]] __m512i zv[NR];
        for (int i = 0; i < MR; ++i) av[i] = _mm512_load_si512(ar[i] + q);  // ld is a multiple of 8 words
        for (int j = 0; j < NR; ++j) {
            bv[j] = _mm512_maskz_loadu_epi64(km, br[j] + q);
            if constexpr (Ternary) zv[j] = _mm512_maskz_loadu_epi64(km, zr[j] + q);
        }
        for (int i = 0; i < MR; ++i) {
            for (int j = 0; j < NR; ++j) {
                __m512i t;
                if constexpr (Ternary) t = _mm512_ternarylogic_epi64(av[i], bv[j], zv[j], 0x28);  // (a ^ neg) & nz
                else t = _mm512_xor_si512(av[i], bv[j]);
                acc[i][j] = _mm512_add_epi64(acc[i][j], popcnt512<Vpopcnt>(t));
            }
        }
    }
    if constexpr (MR % 2 == 0 && NR == 4) {
        // horizontal sums by a transpose-and-add tree and a vector epilogue, two rows at a time:
        // 16 full reductions and 16 scalar stores cost as much as the popcount loop at K = 4096
        for (int i = 0; i < MR; i += 2)
            bin_store2x4<Ternary>(reduce8_epi64(acc[i][0], acc[i][1], acc[i][2], acc[i][3], acc[i + 1][0], acc[i + 1][1],
                                                acc[i + 1][2], acc[i + 1][3]),
                                  m0 + static_cast<std::size_t>(i), n0, nnz, a, w, o);
    } else {
        for (int i = 0; i < MR; ++i)
            for (int j = 0; j < NR; ++j)
                bin_store(m0 + static_cast<std::size_t>(i), n0 + static_cast<std::size_t>(j),
                          static_cast<std::int32_t>(_mm512_reduce_add_epi64(acc[i][j])),
                          Ternary ? nnz[n0 + static_cast<std::size_t>(j)] : 0, a, w, o);
    }
}
#endif

#if defined(COMPRESS_X86) && defined(__AVX2__)
inline __m256i popcnt256(__m256i v) noexcept {
    const __m256i lut = _mm256_setr_epi8(0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4, 0, 1, 1, 2, 1, 2, 2, 3, 1, 2,
                                         2, 3, 2, 3, 3, 4);
    const __m256i low = _mm256_set1_epi8(0x0F);
    const __m256i lo = _mm256_shuffle_epi8(lut, _mm256_and_si256(v, low));
    const __m256i hi = _mm256_shuffle_epi8(lut, _mm256_and_si256(_mm256_srli_epi16(v, 4), low));
    return _mm256_sad_epu8(_mm256_add_epi8(lo, hi), _mm256_setzero_si256());
}

template <int MR, int NR, bool Ternary>
inline void bin_micro256(const bin_activations& a, const bin_weights& w, std::size_t m0, std::size_t n0,
                         const std::int32_t* nnz, const bin_out& o) {
    __m256i acc[MR][NR];
    for (int i = 0; i < MR; ++i)
        for (int j = 0; j < NR; ++j) acc[i][j] = _mm256_setzero_si256();
    const std::size_t W = a.words, Wv = W / 4 * 4;
    std::int64_t tail[MR][NR] = {};
    for (std::size_t q = 0; q < Wv; q += 4) {
        __m256i av[MR], bv[NR];
        [[maybe_unused]] __m256i zv[NR];
        for (int i = 0; i < MR; ++i)
            av[i] = _mm256_load_si256(reinterpret_cast<const __m256i*>(a.bits.data() + (m0 + static_cast<std::size_t>(i)) * a.ld + q));
        for (int j = 0; j < NR; ++j) {
            bv[j] = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w.bits + (n0 + static_cast<std::size_t>(j)) * w.wld + q));
            if constexpr (Ternary)
                zv[j] = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w.nonzero + (n0 + static_cast<std::size_t>(j)) * w.wld + q));
        }
        for (int i = 0; i < MR; ++i)
            for (int j = 0; j < NR; ++j) {
                __m256i t = _mm256_xor_si256(av[i], bv[j]);
                if constexpr (Ternary) t = _mm256_and_si256(t, zv[j]);
                acc[i][j] = _mm256_add_epi64(acc[i][j], popcnt256(t));
            }
    }
    for (std::size_t q = Wv; q < W; ++q)
        for (int i = 0; i < MR; ++i)
            for (int j = 0; j < NR; ++j) {
                const std::size_t n = n0 + static_cast<std::size_t>(j);
                std::uint64_t t = a.bits[(m0 + static_cast<std::size_t>(i)) * a.ld + q] ^ w.bits[n * w.wld + q];
                if constexpr (Ternary) t &= w.nonzero[n * w.wld + q];
                tail[i][j] += popcount64(t);
            }
    for (int i = 0; i < MR; ++i)
        for (int j = 0; j < NR; ++j) {
            alignas(32) std::int64_t t[4];
            _mm256_store_si256(reinterpret_cast<__m256i*>(t), acc[i][j]);
            const std::int64_t p = t[0] + t[1] + t[2] + t[3] + tail[i][j];
            bin_store(m0 + static_cast<std::size_t>(i), n0 + static_cast<std::size_t>(j), static_cast<std::int32_t>(p),
                      Ternary ? nnz[n0 + static_cast<std::size_t>(j)] : 0, a, w, o);
        }
}
#endif

template <bool Ternary>
inline void bin_scalar(const bin_activations& a, const bin_weights& w, std::size_t m, std::size_t n,
                       const std::int32_t* nnz, const bin_out& o) {
    std::int32_t p = 0;
    const std::uint64_t* ar = a.bits.data() + m * a.ld;
    const std::uint64_t* br = w.bits + n * w.wld;
    for (std::size_t q = 0; q < a.words; ++q) {
        std::uint64_t t = ar[q] ^ br[q];
        if constexpr (Ternary) t &= w.nonzero[n * w.wld + q];
        p += popcount64(t);
    }
    bin_store(m, n, p, Ternary ? nnz[n] : 0, a, w, o);
}

template <class Arch, class Ext, bool Ternary>
void bin_tile(const bin_activations& a, const bin_weights& w, std::size_t n0, std::size_t nr, const std::int32_t* nnz,
              const bin_out& o) {
    constexpr int_path path = int8_path<Arch, Ext>();
    [[maybe_unused]] constexpr int MR = 4;
    constexpr int NR = 4;
    std::size_t m = 0;
    if (nr == NR) {
        if constexpr (path == int_path::vnni512 || path == int_path::avx512bw) {
#if defined(COMPRESS_X86) && defined(__AVX512BW__)
            for (; m + MR <= a.rows; m += MR) bin_micro512<MR, NR, Ternary, Ext::vpopcntdq>(a, w, m, n0, nnz, o);
            for (; m < a.rows; ++m) bin_micro512<1, NR, Ternary, Ext::vpopcntdq>(a, w, m, n0, nnz, o);
#endif
        } else if constexpr (path == int_path::avx2 || path == int_path::avxvnni) {
#if defined(COMPRESS_X86) && defined(__AVX2__)
            for (; m + 2 <= a.rows; m += 2) bin_micro256<2, NR, Ternary>(a, w, m, n0, nnz, o);
            for (; m < a.rows; ++m) bin_micro256<1, NR, Ternary>(a, w, m, n0, nnz, o);
#endif
        }
    }
    for (; m < a.rows; ++m)
        for (std::size_t j = 0; j < nr; ++j) bin_scalar<Ternary>(a, w, m, n0 + j, nnz, o);
}

/// The binary / ternary driver: blocks of 4 output channels, threads split the blocks.
template <class Arch = xsimd::default_arch, class Ext = lowbit_ext_default>
void bin_run(const bin_activations& a, const bin_weights& w, const bin_out& o) {
    if (a.rows == 0 || w.n == 0) return;
    std::vector<std::int32_t> nnz;
    if (w.nonzero) {
        nnz.resize(w.n);
        const std::size_t W = div_up(w.k, 64);
        for (std::size_t n = 0; n < w.n; ++n) {
            std::int32_t c = 0;
            for (std::size_t q = 0; q < W; ++q) c += popcount64(w.nonzero[n * w.wld + q]);
            nnz[n] = c;
        }
    }
    const std::size_t blocks = div_up(w.n, 4);
    COMPRESS_OMP_FOR
    for (std::ptrdiff_t bi = 0; bi < static_cast<std::ptrdiff_t>(blocks); ++bi) {
        const std::size_t n0 = static_cast<std::size_t>(bi) * 4;
        const std::size_t nr = std::min<std::size_t>(4, w.n - n0);
        if (w.nonzero) bin_tile<Arch, Ext, true>(a, w, n0, nr, nnz.data(), o);
        else bin_tile<Arch, Ext, false>(a, w, n0, nr, nnz.data(), o);
    }
}

/// Exact D[m, n] (see the top of this file), row stride ldc.
template <class Arch = xsimd::default_arch, class Ext = lowbit_ext_default>
void bin_gemm_s32(const bin_activations& a, const bin_weights& w, std::int32_t* D, std::size_t ldc) {
    bin_out o;
    o.dot = D;
    o.ldc = ldc;
    bin_run<Arch, Ext>(a, w, o);
}

/// Y[m, n] = β[m] · α[n] · D[m, n] + bias[n].
template <class Arch = xsimd::default_arch, class Ext = lowbit_ext_default>
void bin_gemm(const bin_activations& a, const bin_weights& w, const float* bias, float* Y, std::size_t ldy) {
    bin_out o;
    o.y = Y;
    o.bias = bias;
    o.ldc = ldy;
    bin_run<Arch, Ext>(a, w, o);
}

}  // namespace compress::detail

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif
