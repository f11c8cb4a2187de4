#pragma once
// Sparse weight x dense activation kernels behind compress::linear for csr, bsr and
// n_of_m_matrix weights: y[b, i] = sum_j W[i, j] x[b, j] + bias[i].
//
// Batch > 1 ("panel" kernels). The activations of a tile of up to 4 vectors of batch rows are
// transposed into a panel xt[j][b] (one aligned row of P = NV * lanes floats per input
// feature, zero padded), so every stored weight W[i, j] does NV vector FMAs
// acc[v] += W[i, j] * xt[j][v*lanes ..]. The input features are walked in column tiles whose
// panel slice (about 96 KB) stays in L2 while every output row visits it; per-row partial sums
// live in an accumulator panel between tiles. Several accumulator sets hide the FMA latency
// and are added in a fixed order. The summation order depends only on the shapes and on the
// batch tile width, never on the thread count. On AVX-512, batches of at most 8 use 8-lane
// AVX2 vectors so that no lane is wasted. Panel, accumulators and row cursors are the
// kernel's own per-call scratch (per thread, reused between calls), not part of the weight.
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
/// Bytes of activation panel a column tile of the N:M kernel spans (L1-sized: every row reads
/// half of the tile's panel rows, so the tile is reused from L1). CSR and BSR rows touch few
/// panel rows per tile, and the per-row cost of a tile (accumulators in and out, a mispredicted
/// loop exit) outweighs the locality gained: they walk all columns at once (measured on the
/// development machine, a Zen 5 core with 48 KB L1D / 1 MB L2).
inline constexpr std::size_t spmm_nm_tile_bytes = 32 * 1024;
inline constexpr std::size_t spmm_no_tiles = ~std::size_t{0} / 2;

/// xt[c*P + b] = x[b*ldx + c] for b < nb, c < cols; zero for nb <= b < P and cols <= c < rows_pad.
inline void spmm_pack_panel(const float* x, std::size_t ldx, std::size_t nb, std::size_t cols, std::size_t rows_pad,
                            std::size_t P, float* COMPRESS_RESTRICT xt) {
    constexpr std::size_t CB = 16;
    for (std::size_t c0 = 0; c0 < cols; c0 += CB) {
        const std::size_t c1 = std::min(cols, c0 + CB);
        for (std::size_t b = 0; b < nb; ++b) {
            const float* src = x + b * ldx;
            for (std::size_t c = c0; c < c1; ++c) xt[c * P + b] = src[c];
        }
        for (std::size_t c = c0; c < c1; ++c) {
            for (std::size_t b = nb; b < P; ++b) xt[c * P + b] = 0.0f;
        }
    }
    if (rows_pad > cols) std::memset(xt + cols * P, 0, (rows_pad - cols) * P * sizeof(float));
}

/// Runs f(integral_constant<NV>) for the runtime nv in 1..spmm_max_nv.
template <class F>
COMPRESS_ALWAYS_INLINE void spmm_dispatch_nv(std::size_t nv, F&& f) {
    switch (nv) {
        case 1: f(std::integral_constant<std::size_t, 1>{}); break;
        case 2: f(std::integral_constant<std::size_t, 2>{}); break;
        case 3: f(std::integral_constant<std::size_t, 3>{}); break;
        default: f(std::integral_constant<std::size_t, 4>{}); break;
    }
}

/// Columns per tile for panel rows of P floats, a multiple of `align`.
inline std::size_t spmm_tile_cols(std::size_t tile_bytes, std::size_t P, std::size_t align) {
    std::size_t kt = tile_bytes / (P * sizeof(float));
    kt = kt / align * align;
    return kt < align ? align : kt;
}

/// Drives a panel kernel over batch tiles and column tiles.
///   out_rows: output rows (a multiple of rows_per_unit; bsr pads the last block row)
///   units:    independent row units (rows, or block rows) split between threads
///   kernel(nv_constant, u0, u1, c0, c1, first_tile, xt, acc): adds the contribution of input
///            columns [c0, c1) to the accumulator rows of units [u0, u1) (acc[row * P + b]).
/// Then y[b, i] = acc[i][b] + bias[i] for the real rows i < rows.
template <class VArch, class Kernel>
void spmm_panels(std::size_t nv_max, std::size_t rows, std::size_t out_rows, std::size_t units,
                 std::size_t rows_per_unit, std::size_t unit_chunk, std::size_t cols, std::size_t rows_pad,
                 std::size_t col_align, std::size_t tile_bytes, const float* x, std::size_t batch, std::size_t ldx, const float* bias,
                 float* y, std::size_t ldy, Kernel&& kernel) {
    constexpr std::size_t W = vec_t<VArch>::size;
    const std::size_t pmax = nv_max * W;
    for (std::size_t b0 = 0; b0 < batch; b0 += pmax) {
        const std::size_t nb = std::min(pmax, batch - b0);
        const std::size_t nv = (nb + W - 1) / W;
        const std::size_t P = nv * W;
        float* xt = thread_scratch<float, 2>(std::max<std::size_t>(rows_pad, 1) * P);
        float* acc = thread_scratch<float, 5>(std::max<std::size_t>(out_rows, 1) * P);
        spmm_pack_panel(x + b0 * ldx, ldx, nb, cols, rows_pad, P, xt);
        const std::size_t kt = spmm_tile_cols(tile_bytes, P, col_align);
        float* yt = y + b0 * ldy;
        spmm_dispatch_nv(nv, [&](auto nvc) {
            parallel_ranges(units, unit_chunk, [&](std::size_t u0, std::size_t u1) {
                // At least one (possibly empty) tile, so the accumulators are always initialized.
                std::size_t c0 = 0;
                do {
                    kernel(nvc, u0, u1, c0, std::min(rows_pad, c0 + kt), c0 == 0, static_cast<const float*>(xt), acc);
                    c0 += kt;
                } while (c0 < rows_pad);
                // Transpose acc [rows][P] into y [nb][rows] in blocks of 16 rows, so each
                // output row gets whole cache lines (a column-wise scatter would touch a new
                // line, and often a new page, per element).
                const std::size_t ibeg = u0 * rows_per_unit, iend = std::min(rows, u1 * rows_per_unit);
                for (std::size_t i0 = ibeg; i0 < iend; i0 += 16) {
                    const std::size_t i1 = std::min(iend, i0 + 16);
                    for (std::size_t b = 0; b < nb; ++b) {
                        float* yr = yt + b * ldy;
                        if (bias) {
                            for (std::size_t i = i0; i < i1; ++i) yr[i] = acc[i * P + b] + bias[i];
                        } else {
                            for (std::size_t i = i0; i < i1; ++i) yr[i] = acc[i * P + b];
                        }
                    }
                }
            });
        });
    }
}

/// The vector architecture of the panel kernels: Arch, or 8-lane AVX2 on AVX-512 for batch <= 8.
template <class Arch, class F>
COMPRESS_ALWAYS_INLINE void spmm_with_panel_arch(std::size_t batch, F&& f) {
#if defined(__AVX2__) && defined(__FMA__)
    if constexpr (std::is_base_of_v<xsimd::avx512f, Arch>) {
        if (batch <= 8) {
            f(xsimd::fma3<xsimd::avx2>{});
            return;
        }
    }
#endif
    (void)batch;
    f(Arch{});
}

// ============================================================================== CSR

/// Adds columns [c0, c1) of CSR rows [r0, r1) to acc; cur[r] is the first entry of row r not
/// yet consumed (column indices are sorted within a row).
template <class Arch, std::size_t NV, class I>
void csr_panel_tile(std::size_t r0, std::size_t r1, std::size_t c1, bool first, const std::uint32_t* rp,
                    const I* ci, const float* val, std::uint32_t* cur, const float* xt, float* accbuf) {
    using V = vec_t<Arch>;
    constexpr std::size_t W = V::size, P = NV * W;
    constexpr std::size_t S = NV >= 8 ? 1 : 8 / NV;  // accumulator sets: >= 8 independent chains
    for (std::size_t i = r0; i < r1; ++i) {
        V acc[S][NV];
        float* arow = accbuf + i * P;
        std::size_t p = first ? rp[i] : cur[i];
        const std::size_t e = rp[i + 1];
        unroll<S>([&](auto s) { unroll<NV>([&](auto v) { acc[s][v] = V(0.0f); }); });
        if (!first) unroll<NV>([&](auto v) { acc[0][v] = V::load_aligned(arow + v * W); });
        for (; p + S <= e && static_cast<std::size_t>(ci[p + S - 1]) < c1; p += S) {
            unroll<S>([&](auto s) {
                const float* xr = xt + static_cast<std::size_t>(ci[p + s]) * P;
                const V a(val[p + s]);
                unroll<NV>([&](auto v) { acc[s][v] = vfma(a, V::load_aligned(xr + v * W), acc[s][v]); });
            });
        }
        for (; p < e && static_cast<std::size_t>(ci[p]) < c1; ++p) {
            const float* xr = xt + static_cast<std::size_t>(ci[p]) * P;
            const V a(val[p]);
            unroll<NV>([&](auto v) { acc[0][v] = vfma(a, V::load_aligned(xr + v * W), acc[0][v]); });
        }
        cur[i] = static_cast<std::uint32_t>(p);
        unroll<S - 1>([&](auto s) { unroll<NV>([&](auto v) { acc[0][v] = acc[0][v] + acc[s + 1][v]; }); });
        unroll<NV>([&](auto v) { acc[0][v].store_aligned(arow + v * W); });
    }
}


/// Scalar on purpose: four partial sums, one index, one x and one value load per weight. AVX-512
/// gathers (16 indices per step) measured no faster on the development machine.
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
    std::uint32_t* cur = thread_scratch<std::uint32_t, 6>(rows);
    spmm_with_panel_arch<Arch>(batch, [&](auto varch) {
        using VA = decltype(varch);
        spmm_panels<VA>(spmm_max_nv, rows, rows, rows, 1, 16, cols, cols, 1, spmm_no_tiles, x, batch, ldx, bias, y, ldy,
                        [&](auto nvc, std::size_t r0, std::size_t r1, std::size_t, std::size_t c1, bool first,
                            const float* xt, float* acc) {
                            csr_panel_tile<VA, decltype(nvc)::value, I>(r0, r1, c1, first, rp, ci, val, cur, xt, acc);
                        });
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
void bsr_panel_tile(std::size_t br0, std::size_t br1, std::size_t bc1, bool first, const std::uint32_t* bp,
                    const I* bc, const float* val, std::uint32_t* cur, const float* xt, float* accbuf) {
    using V = vec_t<Arch>;
    constexpr std::size_t W = V::size, P = NV * W;
    constexpr std::size_t chains = R * NV;
    constexpr std::size_t S0 = chains >= 8 ? 1 : (8 + chains - 1) / chains;
    constexpr std::size_t S = S0 < C ? S0 : C;  // sets alternate over the columns of a block
    for (std::size_t br = br0; br < br1; ++br) {
        V acc[S][R][NV];
        float* arow = accbuf + br * R * P;
        unroll<S>([&](auto s) { unroll<R>([&](auto r) { unroll<NV>([&](auto v) { acc[s][r][v] = V(0.0f); }); }); });
        if (!first) {
            unroll<R>([&](auto r) { unroll<NV>([&](auto v) { acc[0][r][v] = V::load_aligned(arow + r * P + v * W); }); });
        }
        std::size_t p = first ? bp[br] : cur[br];
        const std::size_t e = bp[br + 1];
        for (; p < e && static_cast<std::size_t>(bc[p]) < bc1; ++p) {
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
        cur[br] = static_cast<std::uint32_t>(p);
        unroll<R>([&](auto r) {
            unroll<S - 1>([&](auto s) { unroll<NV>([&](auto v) { acc[0][r][v] = acc[0][r][v] + acc[s + 1][r][v]; }); });
            unroll<NV>([&](auto v) { acc[0][r][v].store_aligned(arow + r * P + v * W); });
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
    std::uint32_t* cur = thread_scratch<std::uint32_t, 6>(brs);
    spmm_with_panel_arch<Arch>(batch, [&](auto varch) {
        using VA = decltype(varch);
        constexpr std::size_t nvmax = bsr_max_nv<VA, R>();
        spmm_panels<VA>(nvmax, rows, brs * R, brs, R, 4, cols, cols_pad, C, spmm_no_tiles, x, batch, ldx, bias, y, ldy,
                        [&](auto nvc, std::size_t b0, std::size_t b1, std::size_t, std::size_t c1, bool first,
                            const float* xt, float* acc) {
                            constexpr std::size_t NV = decltype(nvc)::value;
                            if constexpr (NV <= nvmax) {
                                bsr_panel_tile<VA, R, C, NV, I>(b0, b1, c1 / C, first, bp, bc, val, cur, xt, acc);
                            }
                        });
    });
}

// ============================================================================== N:M

/// Calls f(k, j, column) for the stored entries k + j in [k0, k1) of one row, in order
/// (entry = group*N + n). With the fast layout (64 % B == 0 and N divides the codes per word)
/// k0 must be a multiple of the codes per word, k is then a multiple of it too and j is a
/// compile-time constant in the unrolled full words; otherwise j may be a run-time value.
template <std::size_t N, std::size_t M, std::size_t B, class F>
COMPRESS_ALWAYS_INLINE void nm_for_each(const std::uint64_t* words, std::size_t k0, std::size_t k1, F&& f) {
    constexpr std::uint64_t mask = (std::uint64_t{1} << B) - 1;
    constexpr std::size_t cpw = 64 / B;
    if constexpr (64 % B == 0 && cpw % N == 0) {
        std::size_t k = k0, w = k0 / cpw;
        for (; k + cpw <= k1; k += cpw, ++w) {
            const std::uint64_t word = words[w];
            const std::size_t base = k / N * M;
            unroll<cpw>([&](auto j) {
                f(k, j, base + (j / N) * M + static_cast<std::size_t>((word >> (j * B)) & mask));
            });
        }
        if (k < k1) {
            const std::uint64_t word = words[w];
            const std::size_t base = k / N * M;
            for (std::size_t j = 0; k + j < k1; ++j) {
                f(k, j, base + (j / N) * M + static_cast<std::size_t>((word >> (j * B)) & mask));
            }
        }
    } else {
        for (std::size_t k = k0; k < k1; ++k) {
            const std::size_t bit = k * B;
            std::uint64_t v = words[bit / 64] >> (bit % 64);
            if (bit % 64 + B > 64) v |= words[bit / 64 + 1] << (64 - bit % 64);
            f(k, std::size_t{0}, (k / N) * M + static_cast<std::size_t>(v & mask));
        }
    }
}

/// Groups per column tile unit: tiles start at a word boundary of the packed positions.
template <std::size_t N, std::size_t M, std::size_t B>
constexpr std::size_t nm_group_align() {
    constexpr std::size_t cpw = 64 / B;
    if constexpr (64 % B == 0 && cpw % N == 0) {
        return cpw / N;
    } else {
        return 1;
    }
}

template <class Arch, std::size_t N, std::size_t M, std::size_t B, std::size_t NV>
void nm_panel_tile(std::size_t r0, std::size_t r1, std::size_t g0, std::size_t g1, bool first, std::size_t G,
                   std::size_t wpr, const float* val, const std::uint64_t* codes, const float* xt, float* accbuf) {
    using V = vec_t<Arch>;
    constexpr std::size_t W = V::size, P = NV * W;
    constexpr std::size_t S = NV >= 8 ? 1 : 8 / NV;
    for (std::size_t i = r0; i < r1; ++i) {
        V acc[S][NV];
        float* arow = accbuf + i * P;
        unroll<S>([&](auto s) { unroll<NV>([&](auto v) { acc[s][v] = V(0.0f); }); });
        if (!first) unroll<NV>([&](auto v) { acc[0][v] = V::load_aligned(arow + v * W); });
        const float* vr = val + i * G * N;
        nm_for_each<N, M, B>(codes + i * wpr, g0 * N, g1 * N, [&](std::size_t k, auto j, std::size_t col) {
            const float* xr = xt + col * P;
            const V a(vr[k + j]);
            if constexpr (std::is_integral_v<decltype(j)>) {
                unroll<NV>([&](auto v) { acc[0][v] = vfma(a, V::load_aligned(xr + v * W), acc[0][v]); });
            } else {
                // k is a multiple of the codes per word, and S divides it: the set is static.
                constexpr std::size_t s = decltype(j)::value % S;
                unroll<NV>([&](auto v) { acc[s][v] = vfma(a, V::load_aligned(xr + v * W), acc[s][v]); });
            }
        });
        unroll<S - 1>([&](auto s) { unroll<NV>([&](auto v) { acc[0][v] = acc[0][v] + acc[s + 1][v]; }); });
        unroll<NV>([&](auto v) { acc[0][v].store_aligned(arow + v * W); });
    }
}

#if defined(__AVX512F__)
/// AVX-512 2:4 GEMV: per 64-bit word of positions (16 groups = 64 columns = 32 values), the 32
/// columns the values need are picked from 4 vectors of x with two-source permutes whose indices
/// come straight from the 2-bit codes: index of value k = (k / 2) * 4 + code_k.
inline void nm24_gemv_rows_avx512(std::size_t r0, std::size_t r1, std::size_t cols, std::size_t G, std::size_t wpr,
                                  const float* val, const std::uint64_t* codes, const float* xpad, const float* bias,
                                  float* y) {
    const __m512i shifts = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    const __m512i base = _mm512_setr_epi32(0, 0, 4, 4, 8, 8, 12, 12, 16, 16, 20, 20, 24, 24, 28, 28);
    const __m512i three = _mm512_set1_epi32(3);
    const std::size_t full_words = cols / 64;  // words whose 64 columns are all inside x
    for (std::size_t i = r0; i < r1; ++i) {
        const float* v = val + i * G * 2;
        const std::uint64_t* w = codes + i * wpr;
        __m512 acc0 = _mm512_setzero_ps(), acc1 = _mm512_setzero_ps();
        std::size_t q = 0;
        for (; q < full_words; ++q) {
            const std::uint64_t word = w[q];
            const float* xq = xpad + q * 64;
            const __m512i lo = _mm512_add_epi32(
                _mm512_and_si512(_mm512_maskz_srlv_epi32(0xFFFF, _mm512_set1_epi32(static_cast<int>(word & 0xFFFFFFFFu)), shifts), three),
                base);
            const __m512i hi = _mm512_add_epi32(
                _mm512_and_si512(_mm512_maskz_srlv_epi32(0xFFFF, _mm512_set1_epi32(static_cast<int>(word >> 32)), shifts), three),
                base);
            const __m512 xa = _mm512_permutex2var_ps(_mm512_loadu_ps(xq), lo, _mm512_loadu_ps(xq + 16));
            const __m512 xb = _mm512_permutex2var_ps(_mm512_loadu_ps(xq + 32), hi, _mm512_loadu_ps(xq + 48));
            acc0 = _mm512_fmadd_ps(_mm512_loadu_ps(v + q * 32), xa, acc0);
            acc1 = _mm512_fmadd_ps(_mm512_loadu_ps(v + q * 32 + 16), xb, acc1);
        }
        // (no _mm512_reduce_add_ps / plain srlv: g++ 12 warns about _mm512_undefined_* inside them)
        alignas(64) float lanes[16];
        _mm512_store_ps(lanes, _mm512_add_ps(acc0, acc1));
        float s = 0.0f;
        for (int l = 0; l < 16; ++l) s += lanes[l];
        for (std::size_t k = q * 32; k < G * 2; ++k) {
            const std::size_t bit = k * 2;
            s += v[k] * xpad[(k / 2) * 4 + static_cast<std::size_t>((w[bit / 64] >> (bit % 64)) & 3u)];
        }
        y[i] = s + (bias ? bias[i] : 0.0f);
    }
}
#endif

template <class Arch, std::size_t N, std::size_t M, std::size_t B>
void nm_gemv_rows(std::size_t r0, std::size_t r1, std::size_t G, std::size_t wpr, const float* val,
                  const std::uint64_t* codes, const float* x, const float* bias, float* y) {
    for (std::size_t i = r0; i < r1; ++i) {
        float s[4] = {0.0f, 0.0f, 0.0f, 0.0f};
        const float* vr = val + i * G * N;
        nm_for_each<N, M, B>(codes + i * wpr, 0, G * N, [&](std::size_t k, auto j, std::size_t col) {
            if constexpr (std::is_integral_v<decltype(j)>) {
                s[0] += vr[k + j] * x[col];
            } else {
                s[decltype(j)::value % 4] += vr[k + j] * x[col];
            }
        });
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
#if defined(__AVX512F__)
        if constexpr (N == 2 && M == 4 && std::is_base_of_v<xsimd::avx512f, Arch>) {
            parallel_ranges(rows, 64, [&](std::size_t r0, std::size_t r1) {
                nm24_gemv_rows_avx512(r0, r1, cols, G, wpr, val, codes, x, bias, y);
            });
            return;
        }
#endif
        parallel_ranges(rows, 64, [&](std::size_t r0, std::size_t r1) {
            nm_gemv_rows<Arch, N, M, B>(r0, r1, G, wpr, val, codes, x, bias, y);
        });
        return;
    }
    constexpr std::size_t align = nm_group_align<N, M, B>() * M;  // columns
    spmm_with_panel_arch<Arch>(batch, [&](auto varch) {
        using VA = decltype(varch);
        spmm_panels<VA>(spmm_max_nv, rows, rows, rows, 1, 16, cols, cols, align, spmm_nm_tile_bytes, x, batch, ldx, bias, y, ldy,
                        [&](auto nvc, std::size_t r0, std::size_t r1, std::size_t c0, std::size_t c1, bool first,
                            const float* xt, float* acc) {
                            const std::size_t g0 = c0 / M, g1 = std::min(G, (c1 + M - 1) / M);
                            nm_panel_tile<VA, N, M, B, decltype(nvc)::value>(r0, r1, g0, g1, first, G, wpr, val,
                                                                            codes, xt, acc);
                        });
    });
}

}  // namespace compress::detail
