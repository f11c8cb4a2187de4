#pragma once
// Sparse weight x dense activation kernels behind compress::linear for csr, bsr and
// n_of_m_matrix weights: y[b, i] = sum_j W[i, j] x[b, j] + bias[i].
//
// Batch > 1 ("panel" kernels): the activations of a tile of up to 4 vectors of batch rows are
// transposed into a panel xt[j][b] (one aligned row of P = NV * lanes floats per input
// feature, zero padded), so every stored weight W[i, j] does NV vector FMAs
// acc[v] += W[i, j] * xt[j][v*lanes .. ]. Several accumulator sets hide the FMA latency; they
// are added in a fixed order, so results do not depend on threads. The panel is the kernel's
// own scratch (per thread, reused between calls), not part of the weight's storage.
//
// Batch == 1 (GEMV kernels): one pass over the stored weights with several partial sums;
// BSR uses vector FMAs over whole blocks, N:M decodes the packed positions on the fly.
//
// Threads (COMPRESS_USE_OPENMP): output rows are split into contiguous ranges.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <type_traits>

#include <xsimd/xsimd.hpp>

#include "../core/arch.hpp"
#include "common.hpp"

namespace compress::detail {

/// Largest number of vectors per panel row.
inline constexpr std::size_t spmm_max_nv = 4;

/// xt[c*P + b] = x[b*ldx + c] for b < nb, c < cols; zero for nb <= b < P and cols <= c < rows_pad.
inline void spmm_pack_panel(const float* x, std::size_t ldx, std::size_t nb, std::size_t cols, std::size_t rows_pad,
                            std::size_t P, float* COMPRESS_RESTRICT xt) {
    for (std::size_t c = 0; c < cols; ++c) {
        float* d = xt + c * P;
        std::size_t b = 0;
        for (; b < nb; ++b) d[b] = x[b * ldx + c];
        for (; b < P; ++b) d[b] = 0.0f;
    }
    if (rows_pad > cols) std::memset(xt + cols * P, 0, (rows_pad - cols) * P * sizeof(float));
}

/// Writes a panel result (P floats, nb valid) to column i of y and adds the bias.
COMPRESS_ALWAYS_INLINE void spmm_store_column(const float* tmp, std::size_t nb, const float* bias, std::size_t i,
                                              float* y, std::size_t ldy) {
    const float bi = bias ? bias[i] : 0.0f;
    for (std::size_t b = 0; b < nb; ++b) y[b * ldy + i] = tmp[b] + bi;
}

/// Runs f.template operator()<NV>() for the runtime nv in 1..spmm_max_nv.
template <class F>
COMPRESS_ALWAYS_INLINE void spmm_dispatch_nv(std::size_t nv, F&& f) {
    switch (nv) {
        case 1: f(std::integral_constant<std::size_t, 1>{}); break;
        case 2: f(std::integral_constant<std::size_t, 2>{}); break;
        case 3: f(std::integral_constant<std::size_t, 3>{}); break;
        default: f(std::integral_constant<std::size_t, 4>{}); break;
    }
}

/// Drives a panel kernel: batch tiles of up to nv_max vectors, panel packing, row ranges.
/// kernel(nv_constant, row_begin, row_end, xt, P, nb, y_tile).
template <class Arch, class Kernel>
void spmm_panels(std::size_t nv_max, std::size_t out_units, std::size_t unit_chunk, std::size_t cols,
                 std::size_t rows_pad, const float* x, std::size_t batch, std::size_t ldx, float* y, std::size_t ldy,
                 Kernel&& kernel) {
    constexpr std::size_t W = vec_t<Arch>::size;
    const std::size_t pmax = nv_max * W;
    for (std::size_t b0 = 0; b0 < batch; b0 += pmax) {
        const std::size_t nb = std::min(pmax, batch - b0);
        const std::size_t nv = (nb + W - 1) / W;
        const std::size_t P = nv * W;
        float* xt = thread_scratch<float, 2>(std::max<std::size_t>(rows_pad, 1) * P);
        spmm_pack_panel(x + b0 * ldx, ldx, nb, cols, rows_pad, P, xt);
        float* yt = y + b0 * ldy;
        spmm_dispatch_nv(nv, [&](auto nvc) {
            parallel_ranges(out_units, unit_chunk, [&](std::size_t u0, std::size_t u1) {
                kernel(nvc, u0, u1, static_cast<const float*>(xt), nb, yt);
            });
        });
    }
}

// ============================================================================== CSR

template <class Arch, std::size_t NV, class I>
void csr_panel_rows(std::size_t r0, std::size_t r1, const std::uint32_t* rp, const I* ci, const float* val,
                    const float* xt, const float* bias, float* y, std::size_t ldy, std::size_t nb) {
    using V = vec_t<Arch>;
    constexpr std::size_t W = V::size, P = NV * W;
    constexpr std::size_t S = NV >= 8 ? 1 : 8 / NV;  // accumulator sets: >= 8 independent chains
    alignas(64) float tmp[P];
    for (std::size_t i = r0; i < r1; ++i) {
        V acc[S][NV];
        unroll<S>([&](auto s) { unroll<NV>([&](auto v) { acc[s][v] = V(0.0f); }); });
        std::size_t p = rp[i];
        const std::size_t e = rp[i + 1];
        for (; p + S <= e; p += S) {
            unroll<S>([&](auto s) {
                const float* xr = xt + static_cast<std::size_t>(ci[p + s]) * P;
                const V a(val[p + s]);
                unroll<NV>([&](auto v) { acc[s][v] = vfma(a, V::load_aligned(xr + v * W), acc[s][v]); });
            });
        }
        for (; p < e; ++p) {
            const float* xr = xt + static_cast<std::size_t>(ci[p]) * P;
            const V a(val[p]);
            unroll<NV>([&](auto v) { acc[0][v] = vfma(a, V::load_aligned(xr + v * W), acc[0][v]); });
        }
        unroll<S - 1>([&](auto s) { unroll<NV>([&](auto v) { acc[0][v] = acc[0][v] + acc[s + 1][v]; }); });
        unroll<NV>([&](auto v) { acc[0][v].store_aligned(tmp + v * W); });
        spmm_store_column(tmp, nb, bias, i, y, ldy);
    }
}

template <class Arch, class I>
void csr_gemv_rows(std::size_t r0, std::size_t r1, const std::uint32_t* rp, const I* ci, const float* val,
                   const float* x, const float* bias, float* y) {
    for (std::size_t i = r0; i < r1; ++i) {
        float s0 = 0.0f, s1 = 0.0f, s2 = 0.0f, s3 = 0.0f;
        std::size_t p = rp[i];
        const std::size_t e = rp[i + 1];
        for (; p + 4 <= e; p += 4) {
            s0 += val[p] * x[ci[p]];
            s1 += val[p + 1] * x[ci[p + 1]];
            s2 += val[p + 2] * x[ci[p + 2]];
            s3 += val[p + 3] * x[ci[p + 3]];
        }
        for (; p < e; ++p) s0 += val[p] * x[ci[p]];
        y[i] = ((s0 + s1) + (s2 + s3)) + (bias ? bias[i] : 0.0f);
    }
}

/// y[b*ldy + i] = sum_p val[p] x[b*ldx + ci[p]] (p in row i) + bias[i] (bias may be null).
template <class Arch, class I>
void csr_spmm(std::size_t rows, std::size_t cols, const std::uint32_t* rp, const I* ci, const float* val,
              const float* x, std::size_t batch, std::size_t ldx, const float* bias, float* y, std::size_t ldy) {
    if (rows == 0 || batch == 0) return;
    if (batch == 1) {
        parallel_ranges(rows, 64, [&](std::size_t r0, std::size_t r1) {
            csr_gemv_rows<Arch, I>(r0, r1, rp, ci, val, x, bias, y);
        });
        return;
    }
    spmm_panels<Arch>(spmm_max_nv, rows, 16, cols, cols, x, batch, ldx, y, ldy,
                      [&](auto nvc, std::size_t r0, std::size_t r1, const float* xt, std::size_t nb, float* yt) {
                          csr_panel_rows<Arch, decltype(nvc)::value, I>(r0, r1, rp, ci, val, xt, bias, yt, ldy, nb);
                      });
}

// ============================================================================== BSR

/// Vectors per panel row for R-row blocks: R*NV accumulators + NV loads + 1 broadcast fit.
template <class Arch, std::size_t R>
constexpr std::size_t bsr_max_nv() {
    const std::size_t regs = is_scalar_arch_v<Arch> ? 16 : simd_registers<Arch>();
    std::size_t nv = (regs - 2) / (R + 1);
    if (nv < 1) nv = 1;
    if (nv > spmm_max_nv) nv = spmm_max_nv;
    return nv;
}

template <class Arch, std::size_t R, std::size_t C, std::size_t NV, class I>
void bsr_panel_rows(std::size_t br0, std::size_t br1, std::size_t rows, const std::uint32_t* bp, const I* bc,
                    const float* val, const float* xt, const float* bias, float* y, std::size_t ldy, std::size_t nb) {
    using V = vec_t<Arch>;
    constexpr std::size_t W = V::size, P = NV * W;
    constexpr std::size_t chains = R * NV;
    constexpr std::size_t S0 = chains >= 8 ? 1 : (8 + chains - 1) / chains;
    constexpr std::size_t S = S0 < C ? S0 : C;  // sets alternate over the columns of a block
    alignas(64) float tmp[P];
    for (std::size_t br = br0; br < br1; ++br) {
        V acc[S][R][NV];
        unroll<S>([&](auto s) { unroll<R>([&](auto r) { unroll<NV>([&](auto v) { acc[s][r][v] = V(0.0f); }); }); });
        for (std::size_t p = bp[br]; p < bp[br + 1]; ++p) {
            const float* vb = val + p * (R * C);
            const float* xr = xt + static_cast<std::size_t>(bc[p]) * C * P;
            unroll<C>([&](auto c) {
                V xv[NV];
                unroll<NV>([&](auto v) { xv[v] = V::load_aligned(xr + c * P + v * W); });
                unroll<R>([&](auto r) {
                    const V a(vb[r * C + c]);
                    unroll<NV>([&](auto v) { acc[c % S][r][v] = vfma(a, xv[v], acc[c % S][r][v]); });
                });
            });
        }
        unroll<R>([&](auto r) {
            const std::size_t i = br * R + r;
            if (i < rows) {
                unroll<S - 1>([&](auto s) { unroll<NV>([&](auto v) { acc[0][r][v] = acc[0][r][v] + acc[s + 1][r][v]; }); });
                unroll<NV>([&](auto v) { acc[0][r][v].store_aligned(tmp + v * W); });
                spmm_store_column(tmp, nb, bias, i, y, ldy);
            }
        });
    }
}

/// The vector type a BSR GEMV uses for R x C blocks: Arch's, or AVX2's half-width vector on
/// AVX-512 when a block holds a multiple of 8 but not of 16 values (1x8, 2x4, ...).
template <class Arch, std::size_t L, class = void>
struct bsr_gemv_vec {
    using type = vec_t<Arch>;
};
#if defined(__AVX2__) && defined(__FMA__)
template <class Arch, std::size_t L>
struct bsr_gemv_vec<Arch, L, std::enable_if_t<std::is_base_of_v<xsimd::avx512f, Arch> && L % 16 != 0 && L % 8 == 0>> {
    using type = xsimd::batch<float, xsimd::fma3<xsimd::avx2>>;
};
#endif

template <class Arch, std::size_t R, std::size_t C, class I>
void bsr_gemv_rows(std::size_t br0, std::size_t br1, std::size_t rows, const std::uint32_t* bp, const I* bc,
                   const float* val, const float* x, const float* xrep, const float* bias, float* y) {
    constexpr std::size_t L = R * C;
    using V = typename bsr_gemv_vec<Arch, L>::type;
    constexpr std::size_t W = V::size;
    constexpr bool vector_path = !is_scalar_arch_v<Arch> && L % W == 0 && (C % W == 0 || W % C == 0);
    for (std::size_t br = br0; br < br1; ++br) {
        float out[R];
        if constexpr (vector_path) {
            constexpr std::size_t NL = L / W;
            V acc[NL];
            unroll<NL>([&](auto l) { acc[l] = V(0.0f); });
            for (std::size_t p = bp[br]; p < bp[br + 1]; ++p) {
                const float* vb = val + p * L;
                const std::size_t col = bc[p];
                unroll<NL>([&](auto l) {
                    V xv;
                    if constexpr (C % W == 0) {
                        xv = V::load_unaligned(x + col * C + (l * W) % C);
                    } else {
                        xv = V::load_unaligned(xrep + col * W);
                    }
                    acc[l] = vfma(V::load_unaligned(vb + l * W), xv, acc[l]);
                });
            }
            alignas(64) float t[L];
            unroll<NL>([&](auto l) { acc[l].store_unaligned(t + l * W); });
            for (std::size_t r = 0; r < R; ++r) {
                float s = 0.0f;
                for (std::size_t c = 0; c < C; ++c) s += t[r * C + c];
                out[r] = s;
            }
        } else {
            float acc[R][C] = {};
            for (std::size_t p = bp[br]; p < bp[br + 1]; ++p) {
                const float* vb = val + p * L;
                const float* xb = x + static_cast<std::size_t>(bc[p]) * C;
                for (std::size_t r = 0; r < R; ++r) {
                    for (std::size_t c = 0; c < C; ++c) acc[r][c] += vb[r * C + c] * xb[c];
                }
            }
            for (std::size_t r = 0; r < R; ++r) {
                float s = 0.0f;
                for (std::size_t c = 0; c < C; ++c) s += acc[r][c];
                out[r] = s;
            }
        }
        for (std::size_t r = 0; r < R && br * R + r < rows; ++r) {
            const std::size_t i = br * R + r;
            y[i] = out[r] + (bias ? bias[i] : 0.0f);
        }
    }
}

/// BSR x dense: W has block_rows x block_cols blocks of R x C (padded at the edges).
template <class Arch, std::size_t R, std::size_t C, class I>
void bsr_spmm(std::size_t rows, std::size_t cols, const std::uint32_t* bp, const I* bc, const float* val,
              const float* x, std::size_t batch, std::size_t ldx, const float* bias, float* y, std::size_t ldy) {
    if (rows == 0 || batch == 0) return;
    const std::size_t brs = (rows + R - 1) / R, bcs = (cols + C - 1) / C;
    const std::size_t cols_pad = bcs * C;
    if (batch == 1) {
        constexpr std::size_t L = R * C;
        using V = typename bsr_gemv_vec<Arch, L>::type;
        constexpr std::size_t W = V::size;
        // x padded to whole blocks; and, when a block row is narrower than a vector, each block's
        // slice of x repeated to a full vector (xrep), so one FMA covers W/C rows of a block.
        float* xp = thread_scratch<float, 3>(cols_pad + 1);
        std::memcpy(xp, x, cols * sizeof(float));
        std::fill(xp + cols, xp + cols_pad, 0.0f);
        const float* xrep = nullptr;
        if constexpr (!is_scalar_arch_v<Arch> && C < W && W % C == 0 && L % W == 0) {
            float* xr = thread_scratch<float, 4>(bcs * W + 1);
            for (std::size_t b = 0; b < bcs; ++b) {
                for (std::size_t t = 0; t < W; ++t) xr[b * W + t] = xp[b * C + t % C];
            }
            xrep = xr;
        }
        parallel_ranges(brs, 16, [&](std::size_t b0, std::size_t b1) {
            bsr_gemv_rows<Arch, R, C, I>(b0, b1, rows, bp, bc, val, xp, xrep, bias, y);
        });
        return;
    }
    spmm_panels<Arch>(bsr_max_nv<Arch, R>(), brs, 4, cols, cols_pad, x, batch, ldx, y, ldy,
                      [&](auto nvc, std::size_t b0, std::size_t b1, const float* xt, std::size_t nb, float* yt) {
                          constexpr std::size_t NV = decltype(nvc)::value;
                          if constexpr (NV <= bsr_max_nv<Arch, R>()) {
                              bsr_panel_rows<Arch, R, C, NV, I>(b0, b1, rows, bp, bc, val, xt, bias, yt, ldy, nb);
                          }
                      });
}

// ============================================================================== N:M

/// Calls f(k, column) for the G*N stored entries of one row, in order (k = group*N + n).
template <std::size_t N, std::size_t M, std::size_t B, class F>
COMPRESS_ALWAYS_INLINE void nm_for_each(const std::uint64_t* words, std::size_t G, F&& f) {
    const std::size_t total = G * N;
    constexpr std::uint64_t mask = (std::uint64_t{1} << B) - 1;
    constexpr std::size_t cpw = 64 / B;
    if constexpr (64 % B == 0 && cpw % N == 0) {
        std::size_t k = 0, w = 0;
        for (; k + cpw <= total; k += cpw, ++w) {
            const std::uint64_t word = words[w];
            const std::size_t base = k / N * M;
            unroll<cpw>([&](auto j) {
                f(k + j, base + (j / N) * M + static_cast<std::size_t>((word >> (j * B)) & mask));
            });
        }
        if (k < total) {
            const std::uint64_t word = words[w];
            const std::size_t base = k / N * M;
            for (std::size_t j = 0; k + j < total; ++j) {
                f(k + j, base + (j / N) * M + static_cast<std::size_t>((word >> (j * B)) & mask));
            }
        }
    } else {
        for (std::size_t k = 0; k < total; ++k) {
            const std::size_t bit = k * B;
            std::uint64_t v = words[bit / 64] >> (bit % 64);
            if (bit % 64 + B > 64) v |= words[bit / 64 + 1] << (64 - bit % 64);
            f(k, (k / N) * M + static_cast<std::size_t>(v & mask));
        }
    }
}

template <class Arch, std::size_t N, std::size_t M, std::size_t B, std::size_t NV>
void nm_panel_rows(std::size_t r0, std::size_t r1, std::size_t G, std::size_t wpr, const float* val,
                   const std::uint64_t* codes, const float* xt, const float* bias, float* y, std::size_t ldy,
                   std::size_t nb) {
    using V = vec_t<Arch>;
    constexpr std::size_t W = V::size, P = NV * W;
    constexpr std::size_t S = NV >= 8 ? 1 : 8 / NV;
    alignas(64) float tmp[P];
    for (std::size_t i = r0; i < r1; ++i) {
        V acc[S][NV];
        unroll<S>([&](auto s) { unroll<NV>([&](auto v) { acc[s][v] = V(0.0f); }); });
        const float* vr = val + i * G * N;
        nm_for_each<N, M, B>(codes + i * wpr, G, [&](std::size_t k, std::size_t col) {
            const float* xr = xt + col * P;
            const V a(vr[k]);
            const std::size_t s = k % S;
            // s is a run-time value in the generic path; branch-free selection by unrolling.
            unroll<S>([&](auto ss) {
                if (ss == s) unroll<NV>([&](auto v) { acc[ss][v] = vfma(a, V::load_aligned(xr + v * W), acc[ss][v]); });
            });
        });
        unroll<S - 1>([&](auto s) { unroll<NV>([&](auto v) { acc[0][v] = acc[0][v] + acc[s + 1][v]; }); });
        unroll<NV>([&](auto v) { acc[0][v].store_aligned(tmp + v * W); });
        spmm_store_column(tmp, nb, bias, i, y, ldy);
    }
}

template <class Arch, std::size_t N, std::size_t M, std::size_t B>
void nm_gemv_rows(std::size_t r0, std::size_t r1, std::size_t G, std::size_t wpr, const float* val,
                  const std::uint64_t* codes, const float* x, const float* bias, float* y) {
    for (std::size_t i = r0; i < r1; ++i) {
        float s[4] = {0.0f, 0.0f, 0.0f, 0.0f};
        const float* vr = val + i * G * N;
        nm_for_each<N, M, B>(codes + i * wpr, G, [&](std::size_t k, std::size_t col) { s[k % 4] += vr[k] * x[col]; });
        y[i] = ((s[0] + s[1]) + (s[2] + s[3])) + (bias ? bias[i] : 0.0f);
    }
}

/// N:M x dense. val: rows*G*N values; codes: rows*wpr words of B-bit in-group positions.
template <class Arch, std::size_t N, std::size_t M, std::size_t B>
void nm_spmm(std::size_t rows, std::size_t cols, std::size_t wpr, const float* val, const std::uint64_t* codes,
             const float* x, std::size_t batch, std::size_t ldx, const float* bias, float* y, std::size_t ldy) {
    if (rows == 0 || batch == 0) return;
    const std::size_t G = (cols + M - 1) / M;
    if (batch == 1) {
        parallel_ranges(rows, 64, [&](std::size_t r0, std::size_t r1) {
            nm_gemv_rows<Arch, N, M, B>(r0, r1, G, wpr, val, codes, x, bias, y);
        });
        return;
    }
    spmm_panels<Arch>(spmm_max_nv, rows, 16, cols, cols, x, batch, ldx, y, ldy,
                      [&](auto nvc, std::size_t r0, std::size_t r1, const float* xt, std::size_t nb, float* yt) {
                          nm_panel_rows<Arch, N, M, B, decltype(nvc)::value>(r0, r1, G, wpr, val, codes, xt, bias, yt,
                                                                            ldy, nb);
                      });
}

}  // namespace compress::detail
