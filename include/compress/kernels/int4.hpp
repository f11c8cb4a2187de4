#pragma once
// Weight-only int4 kernels: Y[M, N] = X[M, K] · dequant(W)ᵀ + bias, with
//   dequant(W)[n, k] = s[n, k / G] · q[n, k],  q a 4-bit two's-complement code in [-8, 7].
//
// Codes use the packed layout of quantize.hpp unchanged (no re-layout): two codes per byte,
// element k of a row at byte k/2, LOW nibble for even k, rows padded to whole bytes
// (ldw >= ceil(K/2) bytes). Group scales are float or fp16 bits (std::uint16_t).
//
// The SIMD paths decode a chunk of 2W codes (W = floats per vector: 16 with AVX-512, 8 with
// AVX2) from W bytes: the low nibbles give the even elements, the high nibbles the odd ones,
// sign-extended by a shift pair and converted to fp32 in registers. The activations are
// permuted once per call into the same order (per chunk: W even elements, then W odd ones),
// so no shuffle is needed per weight. The fast path needs G to be a multiple of 2W; other
// group sizes, the partial last group and the scalar arch use a plain loop.

#include <algorithm>
#include <cstddef>
#include <cstdint>

#include "int8.hpp"

// g++ 12 reports the `__Y = __Y` self-initialization inside its own AVX-512 intrinsics
// (_mm512_undefined_ps, GCC bug 105593) as -Wmaybe-uninitialized once they are inlined here.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

namespace compress::detail {

/// 4-bit two's complement code of element k of a packed row.
inline int s4_code(const std::uint8_t* row, std::size_t k) noexcept {
    const unsigned b = row[k / 2];
    const unsigned nib = (k % 2 == 0) ? (b & 0xFu) : (b >> 4);
    return static_cast<int>(nib ^ 8u) - 8;
}

/// Elements per decode chunk on Arch (0: no SIMD chunking, natural order).
template <class Arch>
constexpr std::size_t s4_chunk() noexcept {
    constexpr int_path p = int8_path<Arch, lowbit_ext_none>();
    if constexpr (p == int_path::avx512bw) return 32;
    else if constexpr (p == int_path::avx2) {
#if defined(__FMA__)
        return 16;
#else
        return 0;
#endif
    } else return 0;
}

/// x permuted chunk by chunk: W even elements then W odd ones; the tail stays in order.
inline void s4_permute(const float* x, std::size_t K, std::size_t chunk, float* out) noexcept {
    std::size_t k = 0;
    if (chunk) {
        const std::size_t W = chunk / 2;
        for (; k + chunk <= K; k += chunk) {
            for (std::size_t i = 0; i < W; ++i) {
                out[k + i] = x[k + 2 * i];
                out[k + W + i] = x[k + 2 * i + 1];
            }
        }
    }
    for (; k < K; ++k) out[k] = x[k];
}

#if defined(COMPRESS_X86) && defined(__AVX512BW__)
/// 32 codes from 16 bytes: lo = even elements, hi = odd elements, as fp32. vpermps reads only
/// the low 4 bits of each index, so the nibble itself indexes a 16-entry table of the values
/// 0..7, -8..-1 (4-bit two's complement): no masking, no sign extension, no conversion.
inline void s4_decode16(const std::uint8_t* p, __m512& lo, __m512& hi) noexcept {
    const __m512 table = _mm512_setr_ps(0, 1, 2, 3, 4, 5, 6, 7, -8, -7, -6, -5, -4, -3, -2, -1);
    const __m512i v = _mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
    lo = _mm512_permutexvar_ps(v, table);
    hi = _mm512_permutexvar_ps(_mm512_srli_epi32(v, 4), table);
}
#endif
#if defined(COMPRESS_X86) && defined(__AVX2__)
/// 16 codes from 8 bytes.
inline void s4_decode8(const std::uint8_t* p, __m256& lo, __m256& hi) noexcept {
    const __m256i v = _mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p)));
    lo = _mm256_cvtepi32_ps(_mm256_srai_epi32(_mm256_slli_epi32(v, 28), 28));
    hi = _mm256_cvtepi32_ps(_mm256_srai_epi32(_mm256_slli_epi32(v, 24), 28));
}
#endif

/// Plain loop over elements [k0, K) of rows n0 .. n0+nr-1, group by group (natural order x).
template <class S>
inline void s4_rows_tail(const float* x, const std::uint8_t* w, std::size_t ldw, std::size_t n0, std::size_t nr,
                         std::size_t k0, std::size_t K, const group_scales<S>& gs, float* tot) noexcept {
    const std::size_t G = gs.group;
    for (std::size_t g = k0 / G; g * G < K; ++g) {
        const std::size_t a = std::max(k0, g * G), b = std::min(K, (g + 1) * G);
        for (std::size_t r = 0; r < nr; ++r) {
            const std::uint8_t* wr = w + (n0 + r) * ldw;
            float s = 0.0f;
            for (std::size_t k = a; k < b; ++k) s += static_cast<float>(s4_code(wr, k)) * x[k];
            tot[r] += gs.at(n0 + r, g) * s;
        }
    }
}

/// GEMV: y[n] = Σ_g s[n,g] Σ_{k∈g} q[n,k] x[k] (+ bias). `xp` is x permuted with s4_permute
/// for this Arch's chunk (or x itself when the chunk is 0).
template <class Arch, class S>
void wo_int4_gemv(const float* x, [[maybe_unused]] const float* xp, const std::uint8_t* w, std::size_t N, std::size_t K,
                  std::size_t ldw, const group_scales<S>& gs, const float* bias, float* y) {
    constexpr std::size_t C = s4_chunk<Arch>();
    const std::size_t G = gs.group;
    [[maybe_unused]] const bool fast = C != 0 && G % C == 0;
    COMPRESS_OMP_FOR
    for (std::ptrdiff_t ni = 0; ni < static_cast<std::ptrdiff_t>(div_up(N, 4)); ++ni) {
        const std::size_t n0 = static_cast<std::size_t>(ni) * 4;
        const std::size_t nr = std::min<std::size_t>(4, N - n0);
        float tot[4] = {0, 0, 0, 0};
        std::size_t k0 = 0;
        if constexpr (C != 0) if (fast) {
            // wr: the 4 rows of this block; pf: the same positions in the next block's rows,
            // prefetched one block ahead (4 short row streams defeat the hardware prefetcher)
            const std::uint8_t* wr[4];
            [[maybe_unused]] const std::uint8_t* pf[4];
            for (std::size_t r = 0; r < 4; ++r) {
                wr[r] = w + (n0 + std::min(r, nr - 1)) * ldw;
                pf[r] = w + std::min(n0 + 4 + r, N - 1) * ldw;
            }
            std::size_t g = 0;
            float sc[4][gemv_scale_block];
            if constexpr (C == 32) {
#if defined(COMPRESS_X86) && defined(__AVX512BW__)
                // The group scale is folded into the 16-entry lookup table (one multiply per row
                // and group), so a chunk costs two vpermps and two FMAs per row; even and odd
                // elements accumulate separately (8 independent FMA chains for 4 rows).
                const __m512 base = _mm512_setr_ps(0, 1, 2, 3, 4, 5, 6, 7, -8, -7, -6, -5, -4, -3, -2, -1);
                __m512 te[4] = {_mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps()};
                __m512 to[4] = {_mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps()};
                while (k0 + G <= K) {
                    const std::size_t gb = std::min(gemv_scale_block, (K - k0) / G);
                    COMPRESS_UNROLL4
                    for (std::size_t r = 0; r < 4; ++r) gs.row(n0 + std::min(r, nr - 1), g, gb, sc[r]);
                    for (std::size_t gi = 0; gi < gb; ++gi, k0 += G, ++g) {
                        __m512 tab[4];
                        COMPRESS_UNROLL4
                        for (std::size_t r = 0; r < 4; ++r) tab[r] = _mm512_mul_ps(base, _mm512_set1_ps(sc[r][gi]));
                        for (std::size_t k = k0; k < k0 + G; k += 32) {
                            const __m512 xe = _mm512_loadu_ps(xp + k), xo = _mm512_loadu_ps(xp + k + 16);
                            COMPRESS_UNROLL4
                            for (std::size_t r = 0; r < 4; ++r) {
                                _mm_prefetch(reinterpret_cast<const char*>(pf[r] + k / 2), _MM_HINT_T0);
                                const __m512i v = _mm512_cvtepu8_epi32(
                                    _mm_loadu_si128(reinterpret_cast<const __m128i*>(wr[r] + k / 2)));
                                te[r] = _mm512_fmadd_ps(_mm512_permutexvar_ps(v, tab[r]), xe, te[r]);
                                to[r] = _mm512_fmadd_ps(_mm512_permutexvar_ps(_mm512_srli_epi32(v, 4), tab[r]), xo, to[r]);
                            }
                        }
                    }
                }
                COMPRESS_UNROLL4
                for (std::size_t r = 0; r < 4; ++r) tot[r] = hsum512(_mm512_add_ps(te[r], to[r]));
#endif
            } else if constexpr (C == 16) {
#if defined(COMPRESS_X86) && defined(__AVX2__) && defined(__FMA__)
                __m256 t[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps()};
                while (k0 + G <= K) {
                    const std::size_t gb = std::min(gemv_scale_block, (K - k0) / G);
                    COMPRESS_UNROLL4
                    for (std::size_t r = 0; r < 4; ++r) gs.row(n0 + std::min(r, nr - 1), g, gb, sc[r]);
                    for (std::size_t gi = 0; gi < gb; ++gi, k0 += G, ++g) {
                        __m256 ga[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps()};
                        for (std::size_t k = k0; k < k0 + G; k += 16) {
                            const __m256 xe = _mm256_loadu_ps(xp + k), xo = _mm256_loadu_ps(xp + k + 8);
                            COMPRESS_UNROLL4
                            for (std::size_t r = 0; r < 4; ++r) {
                                _mm_prefetch(reinterpret_cast<const char*>(pf[r] + k / 2), _MM_HINT_T0);
                                __m256 lo, hi;
                                s4_decode8(wr[r] + k / 2, lo, hi);
                                ga[r] = _mm256_fmadd_ps(lo, xe, ga[r]);
                                ga[r] = _mm256_fmadd_ps(hi, xo, ga[r]);
                            }
                        }
                        COMPRESS_UNROLL4
                        for (std::size_t r = 0; r < 4; ++r) t[r] = _mm256_fmadd_ps(_mm256_set1_ps(sc[r][gi]), ga[r], t[r]);
                    }
                }
                COMPRESS_UNROLL4
                for (std::size_t r = 0; r < 4; ++r) tot[r] = hsum256(t[r]);
#endif
            }
        }
        s4_rows_tail(x, w, ldw, n0, nr, k0, K, gs, tot);
        for (std::size_t r = 0; r < nr; ++r) y[n0 + r] = tot[r] + (bias ? bias[n0 + r] : 0.0f);
    }
}

/// Row n dequantized to fp32 in the permuted order of chunk C (natural order when C == 0).
template <class Arch, class S>
void s4_dequant_row(const std::uint8_t* q, std::size_t K, const group_scales<S>& gs, std::size_t n, float* out) {
    constexpr std::size_t C = s4_chunk<Arch>();
    std::size_t k = 0;
    if (C != 0 && gs.group % C == 0) {
        if constexpr (C == 32) {
#if defined(COMPRESS_X86) && defined(__AVX512BW__)
            for (; k + 32 <= K; k += 32) {
                const __m512 s = _mm512_set1_ps(gs.at(n, k / gs.group));
                __m512 lo, hi;
                s4_decode16(q + k / 2, lo, hi);
                _mm512_storeu_ps(out + k, _mm512_mul_ps(s, lo));
                _mm512_storeu_ps(out + k + 16, _mm512_mul_ps(s, hi));
            }
#endif
        } else if constexpr (C == 16) {
#if defined(COMPRESS_X86) && defined(__AVX2__)
            for (; k + 16 <= K; k += 16) {
                const __m256 s = _mm256_set1_ps(gs.at(n, k / gs.group));
                __m256 lo, hi;
                s4_decode8(q + k / 2, lo, hi);
                _mm256_storeu_ps(out + k, _mm256_mul_ps(s, lo));
                _mm256_storeu_ps(out + k + 8, _mm256_mul_ps(s, hi));
            }
#endif
        }
    } else if (C != 0) {  // chunked order, but a chunk may straddle groups
        const std::size_t W = C / 2;
        for (; k + C <= K; k += C) {
            for (std::size_t i = 0; i < W; ++i) {
                out[k + i] = gs.at(n, (k + 2 * i) / gs.group) * static_cast<float>(s4_code(q, k + 2 * i));
                out[k + W + i] = gs.at(n, (k + 2 * i + 1) / gs.group) * static_cast<float>(s4_code(q, k + 2 * i + 1));
            }
        }
    }
    for (; k < K; ++k) out[k] = gs.at(n, k / gs.group) * static_cast<float>(s4_code(q, k));
}

/// Weight-only int4 GEMM. M < 4: GEMV per row (memory-bound, codes decoded in registers);
/// otherwise 16 channels at a time are dequantized into an fp32 block in the permuted order
/// and multiplied with the permuted activations.
template <class Arch = xsimd::default_arch, class S = float>
void wo_int4_gemm(const float* X, std::size_t M, std::size_t K, std::size_t ldx, const std::uint8_t* W, std::size_t N,
                  std::size_t ldw, const group_scales<S>& gs, const float* bias, float* Y, std::size_t ldy) {
    if (M == 0 || N == 0) return;
    constexpr std::size_t C = s4_chunk<Arch>();
    aligned_vector<float> xp(std::max<std::size_t>(M * K, 1));
    for (std::size_t m = 0; m < M; ++m) s4_permute(X + m * ldx, K, C, xp.data() + m * K);
    if (M < 4) {
        for (std::size_t m = 0; m < M; ++m)
            wo_int4_gemv<Arch>(X + m * ldx, xp.data() + m * K, W, N, K, ldw, gs, bias, Y + m * ldy);
        return;
    }
    constexpr std::size_t NB = 16;
    COMPRESS_OMP_FOR
    for (std::ptrdiff_t bi = 0; bi < static_cast<std::ptrdiff_t>(div_up(N, NB)); ++bi) {
        const std::size_t n0 = static_cast<std::size_t>(bi) * NB;
        const std::size_t nb = std::min(NB, N - n0);
        aligned_vector<float> buf(nb * K);
        for (std::size_t j = 0; j < nb; ++j) s4_dequant_row<Arch>(W + (n0 + j) * ldw, K, gs, n0 + j, buf.data() + j * K);
        dot_block_f32<Arch>(xp.data(), K, M, buf.data(), K, nb, K, bias, Y + n0, ldy, n0);
    }
}

// ======================================================================================
// Low-bit × sparse (Deep Compression): CSR rows whose values are int8 codes with a per-row
// scale, or 4-bit indices into a 16-entry fp32 codebook (k-means weight sharing).
// ======================================================================================

/// y[n] = scale[n] · Σ_{j∈row n} code[j] · x[col[j]] (+ bias). row_ptr has N+1 entries.
template <class Arch = xsimd::default_arch, class Ptr, class Idx>
void sparse_q8_gemv(const float* x, std::size_t N, const Ptr* row_ptr, const Idx* cols, const std::int8_t* codes,
                    const float* row_scales, std::size_t n_scales, const float* bias, float* y) {
    constexpr int_path path = int8_path<Arch, lowbit_ext_none>();
    COMPRESS_OMP_FOR
    for (std::ptrdiff_t ni = 0; ni < static_cast<std::ptrdiff_t>(N); ++ni) {
        const auto n = static_cast<std::size_t>(ni);
        std::size_t j = static_cast<std::size_t>(row_ptr[n]);
        const std::size_t e = static_cast<std::size_t>(row_ptr[n + 1]);
        float s = 0.0f;
        if constexpr (path == int_path::avx512bw) {
#if defined(COMPRESS_X86) && defined(__AVX512BW__)
            __m512 acc = _mm512_setzero_ps();
            for (; j + 16 <= e; j += 16) {
                __m512i idx;
                if constexpr (sizeof(Idx) == 1) idx = _mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(cols + j)));
                else if constexpr (sizeof(Idx) == 2) idx = _mm512_cvtepu16_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(cols + j)));
                else idx = _mm512_loadu_si512(cols + j);
                const __m512 xv = _mm512_i32gather_ps(idx, x, 4);
                const __m512 cv = _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(codes + j))));
                acc = _mm512_fmadd_ps(cv, xv, acc);
            }
            s = hsum512(acc);
#endif
        }
        for (; j < e; ++j) s += static_cast<float>(codes[j]) * x[static_cast<std::size_t>(cols[j])];
        y[n] = row_scales[n_scales == 1 ? 0 : n] * s + (bias ? bias[n] : 0.0f);
    }
}

/// y[n] = Σ_{j∈row n} codebook[idx[j]] · x[col[j]] (+ bias); idx packed two per byte
/// (entry j at byte j/2, low nibble for even j), 16 codebook entries.
template <class Arch = xsimd::default_arch, class Ptr, class Idx>
void sparse_codebook4_gemv(const float* x, std::size_t N, const Ptr* row_ptr, const Idx* cols, const std::uint8_t* idx,
                           const float* codebook, const float* bias, float* y) {
    constexpr int_path path = int8_path<Arch, lowbit_ext_none>();
    COMPRESS_OMP_FOR
    for (std::ptrdiff_t ni = 0; ni < static_cast<std::ptrdiff_t>(N); ++ni) {
        const auto n = static_cast<std::size_t>(ni);
        std::size_t j = static_cast<std::size_t>(row_ptr[n]);
        const std::size_t e = static_cast<std::size_t>(row_ptr[n + 1]);
        float s = 0.0f;
        if constexpr (path == int_path::avx512bw) {
#if defined(COMPRESS_X86) && defined(__AVX512BW__)
            const __m512 cb = _mm512_loadu_ps(codebook);
            __m512 acc = _mm512_setzero_ps();
            // align j to an even entry so that 16 entries are 8 whole bytes
            if (j % 2 != 0 && j < e) {
                s += codebook[idx[j / 2] >> 4] * x[static_cast<std::size_t>(cols[j])];
                ++j;
            }
            const __m512i shifts = _mm512_set_epi32(4, 0, 4, 0, 4, 0, 4, 0, 4, 0, 4, 0, 4, 0, 4, 0);
            const __m512i pick = _mm512_set_epi32(7, 7, 6, 6, 5, 5, 4, 4, 3, 3, 2, 2, 1, 1, 0, 0);
            for (; j + 16 <= e; j += 16) {
                __m512i ci;
                if constexpr (sizeof(Idx) == 1) ci = _mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(cols + j)));
                else if constexpr (sizeof(Idx) == 2) ci = _mm512_cvtepu16_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(cols + j)));
                else ci = _mm512_loadu_si512(cols + j);
                const __m512 xv = _mm512_i32gather_ps(ci, x, 4);
                // 8 bytes → 16 nibbles: byte b goes to lanes 2b (low nibble) and 2b+1 (high)
                const __m512i bytes = _mm512_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(idx + j / 2)));
                const __m512i nib = _mm512_and_si512(_mm512_srlv_epi32(_mm512_permutexvar_epi32(pick, bytes), shifts),
                                                     _mm512_set1_epi32(0xF));
                acc = _mm512_fmadd_ps(_mm512_permutexvar_ps(nib, cb), xv, acc);
            }
            s += hsum512(acc);
#endif
        }
        for (; j < e; ++j) {
            const unsigned b = idx[j / 2];
            s += codebook[(j % 2 == 0) ? (b & 0xFu) : (b >> 4)] * x[static_cast<std::size_t>(cols[j])];
        }
        y[n] = s + (bias ? bias[n] : 0.0f);
    }
}

}  // namespace compress::detail

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif
