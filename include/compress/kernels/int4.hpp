#pragma once
// Weight-only int4 kernels: Y[M, N] = X[M, K] · dequant(W)ᵀ + bias, with
//   dequant(W)[n, k] = s[n, k / G] · q[n, k],  q a 4-bit two's-complement code in [-8, 7].
//
// Codes use the packed layout of quantize.hpp unchanged (no re-layout): two codes per byte,
// element k of a row at byte k/2, LOW nibble for even k, rows padded to whole bytes
// (ldw >= ceil(K/2) bytes). Group scales are float or fp16 bits (std::uint16_t).
//
// The vector paths (one body for AVX-512 and AVX2 + FMA, over the width trait wo_vec of
// int8.hpp) decode a chunk of 8W codes (W = floats per vector: 16 or 8) from ONE vector load of
// 4W bytes: 32-bit lane j holds elements 8j .. 8j+7 as its nibbles 0..7, so nibble i of every
// lane, shifted down, is a vector of elements 8j + i: a 16-entry vpermps table lookup (AVX-512:
// the permute reads only the low 4 bits of the index) or a shift pair and a conversion (AVX2)
// turns it into fp32. The activations are permuted once per call into the same order, so no
// shuffle is needed per weight. Lane j's 8 elements share a group when G % 8 == 0: the group
// scales are applied per lane once per chunk (a permute of the row's scales, converted to fp32
// once per row and segment of chunks). Other group sizes and the scalar arch use a plain loop.

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

/// Elements per decode chunk on Arch: 8 per 32-bit lane of a vector (128 with AVX-512, 64 with
/// AVX2 + FMA); 0: no vector path, natural order.
template <class Arch>
constexpr std::size_t s4_chunk() noexcept {
    using V = wo_vec<Arch>;
    if constexpr (std::is_void_v<V>) return 0;
    else return 8 * V::W;
}

/// x permuted for decode chunks of C = 8W elements: out[c + W·i + j] = x[c + 8j + i] (lane j of
/// the vector decoded from nibble i of every dword holds element 8j + i). The last, partial
/// chunk is padded with zeros: out has round_up(K, C) entries. chunk == 0: a plain copy.
inline void s4_permute(const float* x, std::size_t K, std::size_t chunk, float* out) noexcept {
    if (chunk == 0) {
        for (std::size_t k = 0; k < K; ++k) out[k] = x[k];
        return;
    }
    const std::size_t W = chunk / 8;
    for (std::size_t c = 0; c < K; c += chunk)
        for (std::size_t i = 0; i < 8; ++i)
            for (std::size_t j = 0; j < W; ++j) {
                const std::size_t e = c + 8 * j + i;
                out[c + W * i + j] = e < K ? x[e] : 0.0f;
            }
}

/// Group bookkeeping of the decode chunks, computed once per call and shared by every row:
/// first[c] = (C·c) / G, the first group of chunk c; idx[c·W + j] = ((C·c + 8j) / G) − first[c],
/// the group of lane j relative to it, in 0 .. W−1 when G % 8 == 0 (each lane's 8 elements then
/// share a group).
struct s4_lanes {
    aligned_vector<std::int32_t> idx;
    std::vector<std::size_t> first;
};
inline s4_lanes s4_lane_groups(std::size_t K, std::size_t chunk, std::size_t G) {
    const std::size_t W = chunk / 8, nc = div_up(K, chunk);
    s4_lanes l;
    l.idx.assign(std::max<std::size_t>(nc * W, 1), 0);
    l.first.assign(std::max<std::size_t>(nc, 1), 0);
    for (std::size_t c = 0; c < nc; ++c) {
        l.first[c] = (c * chunk) / G;
        for (std::size_t j = 0; j < W; ++j)
            l.idx[c * W + j] = static_cast<std::int32_t>((c * chunk + 8 * j) / G - l.first[c]);
    }
    return l;
}

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

/// Lane scales of a chunk whose first group is g0: lane j ← s[row, g0 + lane_idx[j]].
template <class V, class S>
inline typename V::vf s4_chunk_scales(const S* srow, std::size_t ngroups, std::size_t g0,
                                      const std::int32_t* lane_idx) noexcept {
    return V::permute(V::load_idx(lane_idx), V::scales(srow + g0, ngroups - g0));
}

/// t += s · Σ_i nib_i(v) · xv[i]: one chunk of one row (8 nibble decodes, two FMA chains, the
/// lane scales s applied once).
template <class V>
inline typename V::vf s4_chunk_dot(typename V::vi v, const typename V::vf* xv, typename V::vf scale,
                                   typename V::vf t) noexcept {
    // two chains: one chain of 8 dependent FMAs per chunk and row measured ~2x slower (Zen 4)
    auto a0 = V::mul(V::template nib<0>(v), xv[0]);
    auto a1 = V::mul(V::template nib<1>(v), xv[1]);
    a0 = V::fma(V::template nib<2>(v), xv[2], a0);
    a1 = V::fma(V::template nib<3>(v), xv[3], a1);
    a0 = V::fma(V::template nib<4>(v), xv[4], a0);
    a1 = V::fma(V::template nib<5>(v), xv[5], a1);
    a0 = V::fma(V::template nib<6>(v), xv[6], a0);
    a1 = V::fma(V::template nib<7>(v), xv[7], a1);
    return V::fma(V::add(a0, a1), scale, t);
}

/// Decode chunks per scale segment of s4_rows_dot: the group scales of a segment's chunks
/// (at most 16·C/8 + 1 groups, as G >= 8) are converted to fp32 once per row into a stack
/// buffer, from which each chunk's lane scales are one permute.
inline constexpr std::size_t s4_seg_chunks = 16;

/// Entries of the prepared x per decode chunk of C elements: C floats, or 2C bf16 (hi + lo).
template <class X>
constexpr std::size_t s4_x_per_chunk(std::size_t C) noexcept {
    return std::is_same_v<X, float> ? C : 2 * C;
}

/// The AVX512_BF16 GEMV's chunk: 128 elements, 64 bytes of codes per row; rows per block (they
/// share the x registers: 4 measured ~10% faster than 2 at 4096², the loads being the limit).
inline constexpr std::size_t s4_bf16_chunk = 128;
inline constexpr std::size_t s4_bf16_rows = 4;

/// x as two bf16 parts for the AVX512_BF16 GEMV: x ≈ hi + lo with hi = bf16(x) rounded to nearest
/// even (toward zero where that would overflow: a finite x keeps a finite hi) and lo = bf16(x − hi)
/// rounded to nearest even (x − hi is exact in fp32), so |x − hi − lo| <= 2^-17 |x| for normal
/// x; a non-finite x gives hi = x (NaN quietened) and lo = 0. Layout per chunk c of 128
/// elements, for i = 0..3, j = 0..15, h = 0..1 (word 2j + h of vector i):
///   out[256c + 32i + 2j + h] = hi(x[128c + 8j + 4h + i]), out[256c + 128 + 32i + 2j + h] = lo(...),
/// zero past K; out has 2·round_up(K, 128) entries. Word m of a 64-byte code vector holds
/// elements 4m .. 4m+3 as nibbles 0..3, so nibble i of words 2j and 2j+1 are the elements
/// 8j + i and 8j + 4 + i: `vdpbf16ps` sums both into fp32 lane j, which covers elements
/// 8j .. 8j+7 over the 4 nibble vectors, the same lanes as the fp32 chunk of 128 (s4_lanes).
inline void s4_bf16_split(const float* x, std::size_t K, std::uint16_t* out) noexcept {
    constexpr std::size_t C = s4_bf16_chunk;
    for (std::size_t c = 0; c < K; c += C) {
        // natural order first (a branch-free loop the compiler vectorizes), then the permutation.
        // For finite x, hi is float_to_bf16(x, saturate = true) and lo is float_to_bf16(x − hi)
        // (core/half.hpp, tested equal): written out here because that function's branches keep
        // the loop scalar (9 µs instead of 3 µs per 4096 elements).
        alignas(64) std::uint16_t hi[C], lo[C];
        const std::size_t n = std::min(C, K - c);
        for (std::size_t e = 0; e < C; ++e) {
            const float v = e < n ? x[c + e] : 0.0f;
            const std::uint32_t u = float_to_bits(v);
            const bool finite = (u & 0x7F800000u) != 0x7F800000u;
            std::uint32_t r = (u + 0x7FFFu + ((u >> 16) & 1u)) >> 16;  // round to nearest even
            r -= ((r & 0x7FFFu) == 0x7F80u) ? 1u : 0u;                   // rounded up to ±Inf: the largest finite
            const std::uint32_t nf = (u >> 16) | ((u & 0x7FFFFFu) != 0 ? 0x40u : 0u);  // ±Inf, NaN made quiet
            const std::uint32_t h = finite ? r : nf;
            const std::uint32_t d = float_to_bits(v - bits_to_float(h << 16));  // exact when finite
            hi[e] = static_cast<std::uint16_t>(h);
            lo[e] = static_cast<std::uint16_t>(finite ? (d + 0x7FFFu + ((d >> 16) & 1u)) >> 16 : 0u);
        }
        std::uint16_t* o = out + 2 * c;
        for (std::size_t i = 0; i < 4; ++i)
            for (std::size_t m = 0; m < 32; ++m) {  // word m = 2j + h of vector i: element 4m + i
                o[32 * i + m] = hi[4 * m + i];
                o[C + 32 * i + m] = lo[4 * m + i];
            }
    }
}

#if defined(COMPRESS_X86) && COMPRESS_HAS_BF16512
/// One bf16 chunk of the R rows, as s4_chunk_rows below: the 8 vectors of hi and lo parts of x
/// (and the lane index `li`) stay in registers; per row, nibble i of every 16-bit word (a shift
/// by 4i) indexes a 32-entry `vpermw` table of bf16(−8 .. 7) (repeated: the permute reads the
/// low 5 bits), and 8 `vdpbf16ps` (products exact in fp32, sums rounded to fp32) accumulate in
/// four chains of two (its latency is 6 cycles; longer chains measured slower), summed and
/// scaled once per chunk.
template <class V, std::size_t R, bool Partial>
__attribute__((always_inline)) inline void s4_chunk_rows(const std::uint8_t* const* wr,
                                                         [[maybe_unused]] const std::uint8_t* const* pf,
                                                         std::size_t off, [[maybe_unused]] std::size_t nbytes,
                                                         const std::uint16_t* xc, __m512i li, const float* const* sb,
                                                         __m512* t) noexcept {
    static_assert(V::W == 16, "the bf16 GEMV is AVX-512 only");
    const auto ld = [xc](std::size_t v) noexcept { return _mm512_loadu_si512(xc + 32 * v); };
    __m512i h0 = ld(0), h1 = ld(1), h2 = ld(2), h3 = ld(3), l0 = ld(4), l1 = ld(5), l2 = ld(6), l3 = ld(7);
#if defined(__GNUC__)
    // x and the lane index in registers for the R rows (g++ otherwise re-loads them per row:
    // with 4 rows, the loads were the bottleneck)
    __asm__("" : "+v"(h0), "+v"(h1), "+v"(h2), "+v"(h3), "+v"(l0), "+v"(l1), "+v"(l2), "+v"(l3), "+v"(li));
#endif
    // bf16 bits of 0..7, -8..-1 (0xC100 .. 0xBF80 as int16), twice; _mm512_set_epi16 lists e31 first
    const __m512i table = _mm512_set_epi16(
        -16512, -16384, -16320, -16256, -16224, -16192, -16160, -16128, 0x40E0, 0x40C0, 0x40A0, 0x4080, 0x4040,
        0x4000, 0x3F80, 0, -16512, -16384, -16320, -16256, -16224, -16192, -16160, -16128, 0x40E0, 0x40C0, 0x40A0,
        0x4080, 0x4040, 0x4000, 0x3F80, 0);
    const auto bh = [](__m512i v) noexcept { return reinterpret_cast<__m512bh&>(v); };
    COMPRESS_UNROLL4
    for (std::size_t r = 0; r < R; ++r) {
        const std::uint8_t* p = wr[r] + off;
        const __m512 s = _mm512_permutexvar_ps(li, _mm512_loadu_ps(sb[r]));
        __m512i v;
        if constexpr (Partial) {
            v = V::nibbles_partial(p, nbytes);
        } else {
            _mm_prefetch(reinterpret_cast<const char*>(pf[r] + off), _MM_HINT_T0);
            v = V::nibbles(p);
        }
        const __m512i d0 = _mm512_permutexvar_epi16(v, table);
        const __m512i d1 = _mm512_permutexvar_epi16(_mm512_srli_epi16(v, 4), table);
        const __m512i d2 = _mm512_permutexvar_epi16(_mm512_srli_epi16(v, 8), table);
        const __m512i d3 = _mm512_permutexvar_epi16(_mm512_srli_epi16(v, 12), table);
        __m512 a0 = _mm512_dpbf16_ps(_mm512_setzero_ps(), bh(d0), bh(h0));
        __m512 a1 = _mm512_dpbf16_ps(_mm512_setzero_ps(), bh(d1), bh(h1));
        __m512 b0 = _mm512_dpbf16_ps(_mm512_setzero_ps(), bh(d0), bh(l0));
        __m512 b1 = _mm512_dpbf16_ps(_mm512_setzero_ps(), bh(d1), bh(l1));
        a0 = _mm512_dpbf16_ps(a0, bh(d2), bh(h2));
        a1 = _mm512_dpbf16_ps(a1, bh(d3), bh(h3));
        b0 = _mm512_dpbf16_ps(b0, bh(d2), bh(l2));
        b1 = _mm512_dpbf16_ps(b1, bh(d3), bh(l3));
        t[r] = _mm512_fmadd_ps(_mm512_add_ps(_mm512_add_ps(a0, a1), _mm512_add_ps(b0, b1)), s, t[r]);
    }
}
#endif

/// One chunk of the R rows (byte offset `off` in each row): x loaded once into registers and
/// shared by the rows, each row's lane scales permuted by `li` from its converted scales sb[r]
/// (which start at the chunk's first group), then s4_chunk_dot. Partial: the chunk has only
/// `nbytes` bytes left in the row (masked load).
template <class V, std::size_t R, bool Partial>
__attribute__((always_inline)) inline void s4_chunk_rows(const std::uint8_t* const* wr,
                                                         [[maybe_unused]] const std::uint8_t* const* pf,
                                                         std::size_t off, [[maybe_unused]] std::size_t nbytes,
                                                         const float* xc, typename V::vi li, const float* const* sb,
                                                         typename V::vf* t) noexcept {
    using vf = typename V::vf;
    constexpr std::size_t W = V::W;
    vf x0 = V::load(xc + 0 * W), x1 = V::load(xc + 1 * W), x2 = V::load(xc + 2 * W), x3 = V::load(xc + 3 * W);
    vf x4 = V::load(xc + 4 * W), x5 = V::load(xc + 5 * W), x6 = V::load(xc + 6 * W), x7 = V::load(xc + 7 * W);
#if defined(__GNUC__)
    // keep x in registers for the R rows: g++ otherwise folds the loads into every row's FMAs,
    // and 8 loads per chunk and row make the loop bound by loads
    __asm__("" : "+v"(x0), "+v"(x1), "+v"(x2), "+v"(x3), "+v"(x4), "+v"(x5), "+v"(x6), "+v"(x7));
#endif
    const vf xv[8] = {x0, x1, x2, x3, x4, x5, x6, x7};
    COMPRESS_UNROLL4
    for (std::size_t r = 0; r < R; ++r) {
        const std::uint8_t* p = wr[r] + off;
        const vf s = V::permute(li, V::load(sb[r]));
        if constexpr (Partial) {
            t[r] = s4_chunk_dot<V>(V::nibbles_partial(p, nbytes), xv, s, t[r]);
        } else {
#if defined(COMPRESS_X86)
            // the same bytes of the next block's rows: when other processes have pushed the
            // codes out of L3, two short row streams are too few for the hardware prefetcher
            // (free when the codes are cached: the loop is bound by vector operations)
            _mm_prefetch(reinterpret_cast<const char*>(pf[r] + off), _MM_HINT_T0);
#endif
            t[r] = s4_chunk_dot<V>(V::nibbles(p), xv, s, t[r]);
        }
    }
}

/// tot[r] = Σ_k s[r, k/G] · q[r][k] · x[k] over all chunks, for the R rows wr[r] (G % 8 == 0).
/// A chunk of a row is one vector load of 4W bytes, decoded by s4_chunk_dot against the
/// permuted x (which the R rows share). The group scales are converted to fp32 once per row and
/// segment of s4_seg_chunks chunks. Out of line for the same reason as s8_groups_dot; the
/// partial last chunk is a masked load.
template <class V, std::size_t R, class S, class X>
__attribute__((noinline)) void s4_rows_dot(const X* xp, const std::uint8_t* const* wrows,
                                           const std::uint8_t* const* pfrows, std::size_t K, std::size_t G,
                                           const S* const* srows, const s4_lanes& lanes, float* tot) noexcept {
    using vf = typename V::vf;
    constexpr std::size_t W = V::W, C = 8 * W, SEG = s4_seg_chunks;
    constexpr std::size_t XC = s4_x_per_chunk<X>(C);  // entries of xp per chunk
    // a segment spans at most SEG·C/8 + 1 groups (G >= 8), then one vector of zeros
    constexpr std::size_t SBUF = (SEG * C / 8 + 1 + W - 1) / W * W + W;
    const std::size_t ngroups = div_up(K, G), full = K / C, nc = div_up(K, C), row_bytes = div_up(K, 2);
    const std::uint8_t* wr[R];
    const std::uint8_t* pf[R];
    const S* sr[R];
    const float* sb[R];
    vf t[R];
    alignas(64) float sbuf[R][SBUF];
    COMPRESS_UNROLL4
    for (std::size_t r = 0; r < R; ++r) {
        wr[r] = wrows[r];
        pf[r] = pfrows[r];
        sr[r] = srows[r];
        t[r] = V::zero();
    }
    const std::size_t* first = lanes.first.data();
    const std::int32_t* idx = lanes.idx.data();
    for (std::size_t c0 = 0; c0 < nc; c0 += SEG) {
        const std::size_t c1 = std::min(nc, c0 + SEG), g0 = first[c0];
        // groups g0 .. g0+ng-1 of each row as fp32 (V::scales zero-fills lanes past the row's
        // last group), then zeros: the lane scales of chunk c are W entries from first[c] − g0,
        // of which those past the last lane's group are not used (lane index < W)
        const std::size_t ng =
            std::min(ngroups, first[c1 - 1] + static_cast<std::size_t>(idx[(c1 - 1) * W + W - 1]) + 1) - g0;
        COMPRESS_UNROLL4
        for (std::size_t r = 0; r < R; ++r) {
            for (std::size_t q = 0; q < ng; q += W) V::store(sbuf[r] + q, V::scales(sr[r] + g0 + q, ngroups - g0 - q));
            V::store(sbuf[r] + round_up(ng, W), V::zero());
        }
        std::size_t c = c0;
        for (const std::size_t e = std::min(c1, full); c < e; ++c) {
            COMPRESS_UNROLL4
            for (std::size_t r = 0; r < R; ++r) sb[r] = sbuf[r] + (first[c] - g0);
            s4_chunk_rows<V, R, false>(wr, pf, c * (C / 2), 0, xp + c * XC, V::load_idx(idx + c * W), sb, t);
        }
        if (c < c1) {  // the partial last chunk
            COMPRESS_UNROLL4
            for (std::size_t r = 0; r < R; ++r) sb[r] = sbuf[r] + (first[c] - g0);
            s4_chunk_rows<V, R, true>(wr, pf, c * (C / 2), row_bytes - c * (C / 2), xp + c * XC,
                                      V::load_idx(idx + c * W), sb, t);
        }
    }
    COMPRESS_UNROLL4
    for (std::size_t r = 0; r < R; ++r) tot[r] = V::hsum(t[r]);
}

/// Whether wo_int4_gemm<Arch, Ext> runs its GEMVs (M < 4, G % 8 == 0) on AVX512_BF16:
/// the AVX-512 path with Ext::bf16512 in a translation unit compiled with AVX512_BF16.
template <class Arch, class Ext>
constexpr bool s4_use_bf16() noexcept {
#if defined(COMPRESS_X86) && COMPRESS_HAS_BF16512
    return Ext::bf16512 && std::is_same_v<wo_vec<Arch>, wo_vec512>;
#else
    return false;
#endif
}

/// GEMV: y[n] = Σ_g s[n,g] Σ_{k∈g} q[n,k] x[k] (+ bias). With a vector path and G % 8 == 0,
/// `xp` is x permuted by s4_permute for s4_chunk<Arch>() (X = float), or split by s4_bf16_split
/// (X = std::uint16_t, AVX512_BF16 only), and `lanes` its s4_lane_groups; otherwise the plain
/// loop over x.
template <class Arch, class S, class X>
void wo_int4_gemv(const float* x, [[maybe_unused]] const X* xp, [[maybe_unused]] const s4_lanes& lanes,
                  const std::uint8_t* w, std::size_t N, std::size_t K, std::size_t ldw, const group_scales<S>& gs,
                  const float* bias, float* y) {
    using V = wo_vec<Arch>;
    if constexpr (!std::is_void_v<V>) {
        if (gs.group % 8 == 0) {
            constexpr std::size_t R = std::is_same_v<X, float> ? V::R4 : s4_bf16_rows;
            COMPRESS_OMP_FOR
            for (std::ptrdiff_t ni = 0; ni < static_cast<std::ptrdiff_t>(div_up(N, R)); ++ni) {
                const std::size_t n0 = static_cast<std::size_t>(ni) * R;
                const std::size_t nr = std::min(R, N - n0);
                const std::uint8_t* wr[R];
                const std::uint8_t* pf[R];
                const S* srow[R];
                for (std::size_t r = 0; r < R; ++r) {
                    wr[r] = w + (n0 + std::min(r, nr - 1)) * ldw;
                    pf[r] = w + std::min(n0 + R + r, N - 1) * ldw;
                    srow[r] = gs.s + (n0 + std::min(r, nr - 1)) * gs.row_stride;
                }
                float tot[R];
                s4_rows_dot<V, R>(xp, wr, pf, K, gs.group, srow, lanes, tot);
                for (std::size_t r = 0; r < nr; ++r) y[n0 + r] = tot[r] + (bias ? bias[n0 + r] : 0.0f);
            }
            return;
        }
    }
    COMPRESS_OMP_FOR
    for (std::ptrdiff_t ni = 0; ni < static_cast<std::ptrdiff_t>(N); ++ni) {
        const auto n = static_cast<std::size_t>(ni);
        float tot = 0.0f;
        s4_rows_tail(x, w, ldw, n, 1, 0, K, gs, &tot);
        y[n] = tot + (bias ? bias[n] : 0.0f);
    }
}

/// Row n dequantized to fp32 in the permuted order of s4_chunk<Arch>() (natural order when it is
/// 0); out has round_up(K, chunk) entries, zero past K.
template <class Arch, class S>
void s4_dequant_row(const std::uint8_t* q, std::size_t K, const group_scales<S>& gs, std::size_t n,
                    [[maybe_unused]] const s4_lanes& lanes, float* out) {
    using V = wo_vec<Arch>;
    constexpr std::size_t C = s4_chunk<Arch>();
    if constexpr (!std::is_void_v<V>) {
        if (gs.group % 8 == 0) {
            constexpr std::size_t W = V::W;
            const std::size_t G = gs.group, ngroups = div_up(K, G), row_bytes = div_up(K, 2);
            const S* srow = gs.s + n * gs.row_stride;
            for (std::size_t k = 0, c = 0; k < K; k += C, ++c) {
                const auto v = k + C > K ? V::nibbles_partial(q + k / 2, row_bytes - k / 2) : V::nibbles(q + k / 2);
                const auto s = s4_chunk_scales<V>(srow, ngroups, lanes.first[c], lanes.idx.data() + c * W);
                V::store(out + k + 0 * W, V::mul(V::template nib<0>(v), s));
                V::store(out + k + 1 * W, V::mul(V::template nib<1>(v), s));
                V::store(out + k + 2 * W, V::mul(V::template nib<2>(v), s));
                V::store(out + k + 3 * W, V::mul(V::template nib<3>(v), s));
                V::store(out + k + 4 * W, V::mul(V::template nib<4>(v), s));
                V::store(out + k + 5 * W, V::mul(V::template nib<5>(v), s));
                V::store(out + k + 6 * W, V::mul(V::template nib<6>(v), s));
                V::store(out + k + 7 * W, V::mul(V::template nib<7>(v), s));
            }
            // the padding of the last chunk decodes the row's pad nibble (or 0) times scale 0 or
            // a real scale: clear it, the permuted x is 0 there but 0 · x must not see a NaN
            for (std::size_t c0 = K / C * C; c0 < K; c0 += C)
                for (std::size_t i = 0; i < 8; ++i)
                    for (std::size_t j = 0; j < W; ++j)
                        if (c0 + 8 * j + i >= K) out[c0 + W * i + j] = 0.0f;
            return;
        }
    }
    if constexpr (C != 0) {  // permuted order, plain loop (G % 8 != 0)
        constexpr std::size_t W = C / 8;
        for (std::size_t c = 0; c < K; c += C)
            for (std::size_t i = 0; i < 8; ++i)
                for (std::size_t j = 0; j < W; ++j) {
                    const std::size_t e = c + 8 * j + i;
                    out[c + W * i + j] = e < K ? gs.at(n, e / gs.group) * static_cast<float>(s4_code(q, e)) : 0.0f;
                }
    } else {
        for (std::size_t k = 0; k < K; ++k) out[k] = gs.at(n, k / gs.group) * static_cast<float>(s4_code(q, k));
    }
}

/// Weight-only int4 GEMM. M < 4: GEMV per row (codes decoded in registers); otherwise 16
/// channels at a time are dequantized into an fp32 block in the permuted order and multiplied
/// with the permuted activations.
template <class Arch = xsimd::default_arch, class Ext = lowbit_ext_default, class S = float>
void wo_int4_gemm(const float* X, std::size_t M, std::size_t K, std::size_t ldx, const std::uint8_t* W, std::size_t N,
                  std::size_t ldw, const group_scales<S>& gs, const float* bias, float* Y, std::size_t ldy) {
    if (M == 0 || N == 0) return;
    constexpr std::size_t C = s4_chunk<Arch>();
    const std::size_t Kp = C ? round_up(K, C) : K;
    if constexpr (s4_use_bf16<Arch, Ext>()) {
        if (M < 4 && gs.group % 8 == 0) {
            static_assert(C == s4_bf16_chunk, "the bf16 GEMV shares the AVX-512 chunks and lanes");
            const s4_lanes lanes = s4_lane_groups(K, C, gs.group);
            aligned_vector<std::uint16_t> xb(2 * Kp);
            for (std::size_t m = 0; m < M; ++m) {
                s4_bf16_split(X + m * ldx, K, xb.data());
                wo_int4_gemv<Arch>(X + m * ldx, xb.data(), lanes, W, N, K, ldw, gs, bias, Y + m * ldy);
            }
            return;
        }
    }
    aligned_vector<float> xp(std::max<std::size_t>(M * Kp, 1));
    for (std::size_t m = 0; m < M; ++m) s4_permute(X + m * ldx, K, C, xp.data() + m * Kp);
    const s4_lanes lanes = s4_lane_groups(K, C ? C : 8, gs.group % 8 == 0 ? gs.group : 8);
    if (M < 4) {
        for (std::size_t m = 0; m < M; ++m)
            wo_int4_gemv<Arch>(X + m * ldx, xp.data() + m * Kp, lanes, W, N, K, ldw, gs, bias, Y + m * ldy);
        return;
    }
    constexpr std::size_t NB = 16;
    COMPRESS_OMP_FOR
    for (std::ptrdiff_t bi = 0; bi < static_cast<std::ptrdiff_t>(div_up(N, NB)); ++bi) {
        const std::size_t n0 = static_cast<std::size_t>(bi) * NB;
        const std::size_t nb = std::min(NB, N - n0);
        aligned_vector<float> buf(nb * Kp);
        for (std::size_t j = 0; j < nb; ++j)
            s4_dequant_row<Arch>(W + (n0 + j) * ldw, K, gs, n0 + j, lanes, buf.data() + j * Kp);
        dot_block_f32<Arch>(xp.data(), Kp, M, buf.data(), Kp, nb, Kp, bias, Y + n0, ldy, n0);
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
