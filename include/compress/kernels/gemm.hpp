#pragma once
// Dense fp32 GEMM, row-major, BLAS-like interface. This is the contract that the training
// substrate (nn/) and compress::linear build on.
//
//   C[M,N] = alpha * op(A) · op(B) + beta * C
//   op(A) is A [M,K] (lda >= K) or, with trans_a, Aᵀ where A is [K,M] (lda >= M);
//   op(B) is B [K,N] (ldb >= N) or, with trans_b, Bᵀ where B is [N,K] (ldb >= K).
//
// beta == 0 overwrites C without reading it (NaN in C does not propagate).
//
// Algorithm (Goto & van de Geijn, "Anatomy of high-performance matrix multiplication"):
//   for jc in N step NC:                      B block  [KC x NC]  (L3)
//     for pc in K step KC:  pack op(B) into NR-wide column panels, k-major
//       for ic in M step MC: pack op(A) into MR-tall row panels, k-major  (L2)
//         for jr in NC step NR:               B micro-panel [KC x NR] stays in L1
//           for ir in MC step MR: micro-kernel, an MR x NR tile of C held in registers:
//             per k: NR/W vector loads of B, MR broadcasts of A, MR*NR/W FMAs.
// Panels are zero-padded to whole MR/NR tiles; edge tiles go through a small buffer, so no
// access reads or writes outside the caller's matrices. The transposing packs use in-register
// 16x16 (AVX-512) / 8x8 (AVX) transposes.
//
// M == 1 (a GEMV: one activation row) skips packing: dot products with the rows of B when
// trans_b, register-blocked row updates otherwise.
//
// Summation order for an element of C depends only on K, KC and whether M == 1 (not on N,
// the thread count or the position of the element), so results are identical with or
// without OpenMP.
//
// Threads (COMPRESS_USE_OPENMP): the larger of M and N is split into contiguous ranges, one
// per thread, each running the serial algorithm with its own packing buffers.

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstring>
#include <type_traits>

#include <xsimd/xsimd.hpp>

#include "../core/arch.hpp"
#include "common.hpp"

namespace compress::detail {

/// Blocking parameters of sgemm for an architecture (see the header comment).
template <class Arch>
struct sgemm_config {
    static constexpr std::size_t lanes = float_lanes<Arch>();
    static constexpr bool scalar = is_scalar_arch_v<Arch>;
    /// Vectors per row of the register tile.
    static constexpr std::size_t nrv = scalar ? 4 : 2;
    static constexpr std::size_t nr = nrv * lanes;
    /// Rows of the register tile: as many as the register file holds next to the B vectors.
    static constexpr std::size_t mr = scalar ? 4 : (simd_registers<Arch>() == 32 ? 14 : 6);
    static constexpr std::size_t kc = 256;
    static constexpr std::size_t mc = mr * (scalar ? 16 : (simd_registers<Arch>() == 32 ? 8 : 16));
    static constexpr std::size_t nc = nr * (scalar ? 256 : 4096 / nr);
};

// ------------------------------------------------------------------------------ packing

/// Packs rows [i0, i0+mr) x k in [p0, p0+kc) of op(A) into dst[k*MR + i], zero rows past mr.
template <class Arch, std::size_t MR>
inline void sgemm_pack_a(bool trans_a, const float* A, std::size_t lda, std::size_t i0, std::size_t mr,
                         std::size_t p0, std::size_t kc, float* COMPRESS_RESTRICT dst) {
    if (trans_a) {
        // A is [K, M]: row k of A holds the MR values we need contiguously.
        for (std::size_t k = 0; k < kc; ++k) {
            const float* src = A + (p0 + k) * lda + i0;
            float* d = dst + k * MR;
            std::size_t i = 0;
            for (; i < mr; ++i) d[i] = src[i];
            for (; i < MR; ++i) d[i] = 0.0f;
        }
    } else {
        for (std::size_t i = 0; i < mr; ++i) {
            const float* src = A + (i0 + i) * lda + p0;
            for (std::size_t k = 0; k < kc; ++k) dst[k * MR + i] = src[k];
        }
        for (std::size_t i = mr; i < MR; ++i) {
            for (std::size_t k = 0; k < kc; ++k) dst[k * MR + i] = 0.0f;
        }
    }
}

#if defined(__AVX512F__)
/// 16x16 transpose: rows r[0..15] (16 floats each) -> columns.
// (maskz forms with a full mask: g++ 12 warns about _mm512_undefined_ps in the plain ones.)
inline void transpose16x16(__m512 r[16]) {
    __m512 t[16];
    for (int i = 0; i < 8; ++i) {
        t[2 * i] = _mm512_maskz_unpacklo_ps(0xFFFF, r[2 * i], r[2 * i + 1]);
        t[2 * i + 1] = _mm512_maskz_unpackhi_ps(0xFFFF, r[2 * i], r[2 * i + 1]);
    }
    for (int i = 0; i < 4; ++i) {
        for (int h = 0; h < 2; ++h) {
            __m512 a = t[4 * i + h], b = t[4 * i + 2 + h];
            r[4 * i + h] = _mm512_maskz_shuffle_ps(0xFFFF, a, b, 0x44);
            r[4 * i + 2 + h] = _mm512_maskz_shuffle_ps(0xFFFF, a, b, 0xEE);
        }
    }
    // r[4i + q] now holds, in each 128-bit lane L, column (4L + q') of rows 4i..4i+3,
    // with q' = {0,2,1,3}[q]. Gather the 128-bit lanes across the four groups.
    for (int q = 0; q < 4; ++q) {
        __m512 a = r[q], b = r[4 + q], c = r[8 + q], d = r[12 + q];
        __m512 ab_lo = _mm512_maskz_shuffle_f32x4(0xFFFF, a, b, 0x44);  // a.L0 a.L1 b.L0 b.L1
        __m512 ab_hi = _mm512_maskz_shuffle_f32x4(0xFFFF, a, b, 0xEE);  // a.L2 a.L3 b.L2 b.L3
        __m512 cd_lo = _mm512_maskz_shuffle_f32x4(0xFFFF, c, d, 0x44);
        __m512 cd_hi = _mm512_maskz_shuffle_f32x4(0xFFFF, c, d, 0xEE);
        t[q] = _mm512_maskz_shuffle_f32x4(0xFFFF, ab_lo, cd_lo, 0x88);       // L0 of a,b,c,d
        t[4 + q] = _mm512_maskz_shuffle_f32x4(0xFFFF, ab_lo, cd_lo, 0xDD);   // L1
        t[8 + q] = _mm512_maskz_shuffle_f32x4(0xFFFF, ab_hi, cd_hi, 0x88);   // L2
        t[12 + q] = _mm512_maskz_shuffle_f32x4(0xFFFF, ab_hi, cd_hi, 0xDD);  // L3
    }
    constexpr int qmap[4] = {0, 2, 1, 3};
    for (int L = 0; L < 4; ++L) {
        for (int q = 0; q < 4; ++q) r[4 * L + qmap[q]] = t[4 * L + q];
    }
}
#endif

#if defined(__AVX__)
/// 8x8 transpose of rows r[0..7] (8 floats each).
inline void transpose8x8(__m256 r[8]) {
    __m256 t[8];
    for (int i = 0; i < 4; ++i) {
        t[2 * i] = _mm256_unpacklo_ps(r[2 * i], r[2 * i + 1]);
        t[2 * i + 1] = _mm256_unpackhi_ps(r[2 * i], r[2 * i + 1]);
    }
    __m256 s[8];
    for (int i = 0; i < 2; ++i) {
        for (int h = 0; h < 2; ++h) {
            __m256 a = t[4 * i + h], b = t[4 * i + 2 + h];
            s[4 * i + 2 * h] = _mm256_shuffle_ps(a, b, 0x44);
            s[4 * i + 2 * h + 1] = _mm256_shuffle_ps(a, b, 0xEE);
        }
    }
    // s[4i + m] holds columns {m, m+4} (low/high 128-bit lane) of rows 4i..4i+3.
    for (int m = 0; m < 4; ++m) {
        r[m] = _mm256_permute2f128_ps(s[m], s[4 + m], 0x20);
        r[4 + m] = _mm256_permute2f128_ps(s[m], s[4 + m], 0x31);
    }
}
#endif

/// Packs columns [j0, j0+nr) x k in [p0, p0+kc) of op(B) into dst[k*NR + j], zero past nr.
template <class Arch, std::size_t NR>
inline void sgemm_pack_b(bool trans_b, const float* B, std::size_t ldb, std::size_t j0, std::size_t nr,
                         std::size_t p0, std::size_t kc, float* COMPRESS_RESTRICT dst) {
    if (!trans_b) {
        for (std::size_t k = 0; k < kc; ++k) {
            const float* src = B + (p0 + k) * ldb + j0;
            float* d = dst + k * NR;
            std::memcpy(d, src, nr * sizeof(float));
            for (std::size_t j = nr; j < NR; ++j) d[j] = 0.0f;
        }
        return;
    }
    // B is [N, K]: column j of op(B) is row j of B. Transpose square tiles in registers.
    std::size_t k = 0;
#if defined(__AVX512F__)
    if constexpr (std::is_base_of_v<xsimd::avx512f, Arch> && NR % 16 == 0) {
        if (nr == NR) {
            for (; k + 16 <= kc; k += 16) {
                for (std::size_t jb = 0; jb < NR; jb += 16) {
                    __m512 r[16];
                    for (int j = 0; j < 16; ++j) r[j] = _mm512_loadu_ps(B + (j0 + jb + j) * ldb + p0 + k);
                    transpose16x16(r);
                    for (int kk = 0; kk < 16; ++kk) _mm512_store_ps(dst + (k + kk) * NR + jb, r[kk]);
                }
            }
        }
    }
#endif
#if defined(__AVX__)
    if constexpr (std::is_base_of_v<xsimd::avx, Arch> && NR % 8 == 0) {
        if (nr == NR) {
            for (; k + 8 <= kc; k += 8) {
                for (std::size_t jb = 0; jb < NR; jb += 8) {
                    __m256 r[8];
                    for (int j = 0; j < 8; ++j) r[j] = _mm256_loadu_ps(B + (j0 + jb + j) * ldb + p0 + k);
                    transpose8x8(r);
                    for (int kk = 0; kk < 8; ++kk) _mm256_store_ps(dst + (k + kk) * NR + jb, r[kk]);
                }
            }
        }
    }
#endif
    for (std::size_t j = 0; j < nr; ++j) {
        const float* src = B + (j0 + j) * ldb + p0;
        for (std::size_t kk = k; kk < kc; ++kk) dst[kk * NR + j] = src[kk];
    }
    for (std::size_t j = nr; j < NR; ++j) {
        for (std::size_t kk = k; kk < kc; ++kk) dst[kk * NR + j] = 0.0f;
    }
}

// ------------------------------------------------------------------------------ micro-kernels

/// C[MR x NR] (ldc) = alpha * sum_k a[k*AS+i] b[k*NR+j] + beta * C; beta == 0 does not read C.
/// MR <= AS rows of a packed A panel of stride AS (fewer rows at the bottom edge of C).
template <class Arch, std::size_t MR, std::size_t NRV, std::size_t AS = MR>
inline void sgemm_micro(std::size_t kc, const float* COMPRESS_RESTRICT a, const float* COMPRESS_RESTRICT b,
                        float* c, std::size_t ldc, float alpha, float beta) {
    if constexpr (is_scalar_arch_v<Arch>) {
        constexpr std::size_t NR = NRV;
        float acc[MR][NR] = {};
        for (std::size_t k = 0; k < kc; ++k) {
            for (std::size_t i = 0; i < MR; ++i) {
                const float ai = a[k * AS + i];
                for (std::size_t j = 0; j < NR; ++j) acc[i][j] += ai * b[k * NR + j];
            }
        }
        for (std::size_t i = 0; i < MR; ++i) {
            for (std::size_t j = 0; j < NR; ++j) {
                float& cij = c[i * ldc + j];
                cij = beta == 0.0f ? alpha * acc[i][j] : alpha * acc[i][j] + beta * cij;
            }
        }
    } else {
        using batch = xsimd::batch<float, Arch>;
        constexpr std::size_t W = batch::size;
        constexpr std::size_t NR = NRV * W;
        batch acc[MR][NRV];
        unroll<MR>([&](auto i) { unroll<NRV>([&](auto v) { acc[i][v] = batch(0.0f); }); });
        for (std::size_t k = 0; k < kc; ++k) {
            batch bv[NRV];
            unroll<NRV>([&](auto v) { bv[v] = batch::load_aligned(b + v * W); });
            unroll<MR>([&](auto i) {
                const batch ai(a[i]);
                unroll<NRV>([&](auto v) { acc[i][v] = xsimd::fma(ai, bv[v], acc[i][v]); });
            });
            a += AS;
            b += NR;
        }
        const batch va(alpha);
        if (beta == 0.0f) {
            unroll<MR>([&](auto i) {
                unroll<NRV>([&](auto v) { (acc[i][v] * va).store_unaligned(c + i * ldc + v * W); });
            });
        } else if (beta == 1.0f) {
            unroll<MR>([&](auto i) {
                unroll<NRV>([&](auto v) {
                    float* p = c + i * ldc + v * W;
                    xsimd::fma(acc[i][v], va, batch::load_unaligned(p)).store_unaligned(p);
                });
            });
        } else {
            const batch vb(beta);
            unroll<MR>([&](auto i) {
                unroll<NRV>([&](auto v) {
                    float* p = c + i * ldc + v * W;
                    xsimd::fma(acc[i][v], va, batch::load_unaligned(p) * vb).store_unaligned(p);
                });
            });
        }
    }
}

/// The micro-kernel for `rows` (1..MR) rows of an A panel of stride MR.
template <class Arch, std::size_t MR, std::size_t NRV>
struct sgemm_micro_table {
    using fn = void (*)(std::size_t, const float*, const float*, float*, std::size_t, float, float);
    template <std::size_t... R>
    static constexpr std::array<fn, MR> make(std::index_sequence<R...>) {
        return {{&sgemm_micro<Arch, R + 1, NRV, MR>...}};
    }
    static constexpr std::array<fn, MR> table = make(std::make_index_sequence<MR>{});
};

/// C = beta * C over an M x N block (beta == 0 writes zeros without reading).
inline void sgemm_scale_c(std::size_t M, std::size_t N, float beta, float* C, std::size_t ldc) {
    if (beta == 1.0f) return;
    for (std::size_t i = 0; i < M; ++i) {
        float* c = C + i * ldc;
        if (beta == 0.0f) {
            std::fill(c, c + N, 0.0f);
        } else {
            for (std::size_t j = 0; j < N; ++j) c[j] *= beta;
        }
    }
}

/// The serial blocked algorithm on one sub-problem (rows [m0, m1), columns [n0, n1) of C).
template <class Arch>
void sgemm_serial(bool trans_a, bool trans_b, std::size_t m0, std::size_t m1, std::size_t n0, std::size_t n1,
                  std::size_t K, float alpha, const float* A, std::size_t lda, const float* B, std::size_t ldb,
                  float beta, float* C, std::size_t ldc) {
    using cfg = sgemm_config<Arch>;
    constexpr std::size_t MR = cfg::mr, NR = cfg::nr, KC = cfg::kc, MC = cfg::mc, NC = cfg::nc;
    const std::size_t M = m1 - m0, N = n1 - n0;
    const std::size_t kc_max = std::min(K, KC);
    float* bp = thread_scratch<float, 0>(kc_max * std::min(NC, (N + NR - 1) / NR * NR));
    float* ap = thread_scratch<float, 1>(kc_max * std::min(MC, (M + MR - 1) / MR * MR));
    alignas(64) float edge[MR * NR];
    constexpr auto& micro = sgemm_micro_table<Arch, MR, cfg::nrv>::table;

    for (std::size_t jc = n0; jc < n1; jc += NC) {
        const std::size_t nc = std::min(NC, n1 - jc);
        for (std::size_t pc = 0; pc < K; pc += KC) {
            const std::size_t kc = std::min(KC, K - pc);
            const float beta_eff = pc == 0 ? beta : 1.0f;
            for (std::size_t jr = 0; jr < nc; jr += NR) {
                sgemm_pack_b<Arch, NR>(trans_b, B, ldb, jc + jr, std::min(NR, nc - jr), pc, kc, bp + jr * kc);
            }
            for (std::size_t ic = m0; ic < m1; ic += MC) {
                const std::size_t mc = std::min(MC, m1 - ic);
                for (std::size_t ir = 0; ir < mc; ir += MR) {
                    sgemm_pack_a<Arch, MR>(trans_a, A, lda, ic + ir, std::min(MR, mc - ir), pc, kc, ap + ir * kc);
                }
                for (std::size_t jr = 0; jr < nc; jr += NR) {
                    const std::size_t nr = std::min(NR, nc - jr);
                    for (std::size_t ir = 0; ir < mc; ir += MR) {
                        const std::size_t mr = std::min(MR, mc - ir);
                        float* c = C + (ic + ir) * ldc + jc + jr;
                        if (mr == MR && nr == NR) {
                            sgemm_micro<Arch, MR, cfg::nrv>(kc, ap + ir * kc, bp + jr * kc, c, ldc, alpha, beta_eff);
                        } else if (nr == NR) {
                            micro[mr - 1](kc, ap + ir * kc, bp + jr * kc, c, ldc, alpha, beta_eff);
                        } else {
                            micro[mr - 1](kc, ap + ir * kc, bp + jr * kc, edge, NR, 1.0f, 0.0f);
                            for (std::size_t i = 0; i < mr; ++i) {
                                float* ci = c + i * ldc;
                                const float* e = edge + i * NR;
                                if (beta_eff == 0.0f) {
                                    for (std::size_t j = 0; j < nr; ++j) ci[j] = alpha * e[j];
                                } else {
                                    for (std::size_t j = 0; j < nr; ++j) ci[j] = alpha * e[j] + beta_eff * ci[j];
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// M == 1: c[j] = alpha * sum_k a[k] op(B)[k, j] + beta * c[j] (a contiguous), without packing.
/// With trans_b every c[j] is a dot product of a with row j of B (4 rows at a time, 2 vectors
/// each); without, c is accumulated row by row of B in register blocks of 4 vectors.
template <class Arch>
void sgemv_row(bool trans_b, std::size_t j0, std::size_t j1, std::size_t K, float alpha, const float* a,
               const float* B, std::size_t ldb, float beta, float* c) {
    using V = vec_t<Arch>;
    constexpr std::size_t W = V::size;
    auto finish = [&](std::size_t j, float dot) { c[j] = beta == 0.0f ? alpha * dot : alpha * dot + beta * c[j]; };
    if (trans_b) {
        std::size_t j = j0;
        for (; j + 4 <= j1; j += 4) {
            V acc[4][2];
            unroll<4>([&](auto r) { acc[r][0] = V(0.0f); acc[r][1] = V(0.0f); });
            std::size_t k = 0;
            for (; k + 2 * W <= K; k += 2 * W) {
                const V a0 = V::load_unaligned(a + k), a1 = V::load_unaligned(a + k + W);
                unroll<4>([&](auto r) {
                    const float* b = B + (j + r) * ldb + k;
                    acc[r][0] = vfma(a0, V::load_unaligned(b), acc[r][0]);
                    acc[r][1] = vfma(a1, V::load_unaligned(b + W), acc[r][1]);
                });
            }
            alignas(64) float t[W];
            unroll<4>([&](auto r) {
                (acc[r][0] + acc[r][1]).store_aligned(t);
                float s = 0.0f;
                for (std::size_t q = 0; q < W; ++q) s += t[q];
                const float* b = B + (j + r) * ldb;
                for (std::size_t kk = k; kk < K; ++kk) s += a[kk] * b[kk];
                finish(j + r, s);
            });
        }
        for (; j < j1; ++j) {
            const float* b = B + j * ldb;
            float s = 0.0f;
            for (std::size_t k = 0; k < K; ++k) s += a[k] * b[k];
            finish(j, s);
        }
        return;
    }
    constexpr std::size_t NB = 4 * W;
    std::size_t j = j0;
    for (; j + NB <= j1; j += NB) {
        V acc[4];
        unroll<4>([&](auto v) { acc[v] = V(0.0f); });
        for (std::size_t k = 0; k < K; ++k) {
            const V ak(a[k]);
            const float* b = B + k * ldb + j;
            unroll<4>([&](auto v) { acc[v] = vfma(ak, V::load_unaligned(b + v * W), acc[v]); });
        }
        alignas(64) float t[NB];
        unroll<4>([&](auto v) { acc[v].store_aligned(t + v * W); });
        for (std::size_t q = 0; q < NB; ++q) finish(j + q, t[q]);
    }
    if (j < j1) {
        float t[NB] = {};
        for (std::size_t k = 0; k < K; ++k) {
            const float* b = B + k * ldb;
            for (std::size_t q = j; q < j1; ++q) t[q - j] += a[k] * b[q];
        }
        for (std::size_t q = j; q < j1; ++q) finish(q, t[q - j]);
    }
}

/// C[M,N] = alpha * op(A) · op(B) + beta * C, row-major (see the header comment).
template <class Arch = xsimd::default_arch>
void sgemm(bool trans_a, bool trans_b, std::size_t M, std::size_t N, std::size_t K, float alpha,
           const float* A, std::size_t lda, const float* B, std::size_t ldb, float beta, float* C,
           std::size_t ldc) {
    if (M == 0 || N == 0) return;
    if (K == 0 || alpha == 0.0f) {
        sgemm_scale_c(M, N, beta, C, ldc);
        return;
    }
    using cfg = sgemm_config<Arch>;
    if (M == 1) {
        // A GEMV: packing op(B) would cost as much as the product itself.
        const float* a = A;
        if (trans_a && lda != 1) {
            float* ac = thread_scratch<float, 7>(K);
            for (std::size_t k = 0; k < K; ++k) ac[k] = A[k * lda];
            a = ac;
        }
        parallel_ranges(N, 64, [&](std::size_t j0, std::size_t j1) {
            sgemv_row<Arch>(trans_b, j0, j1, K, alpha, a, B, ldb, beta, C);
        });
        return;
    }
    if (N >= M) {
        parallel_ranges(N, cfg::nr * 4, [&](std::size_t n0, std::size_t n1) {
            sgemm_serial<Arch>(trans_a, trans_b, 0, M, n0, n1, K, alpha, A, lda, B, ldb, beta, C, ldc);
        });
    } else {
        parallel_ranges(M, cfg::mr * 4, [&](std::size_t m0, std::size_t m1) {
            sgemm_serial<Arch>(trans_a, trans_b, m0, m1, 0, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
        });
    }
}

}  // namespace compress::detail
