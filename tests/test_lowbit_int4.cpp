// Weight-only int4 GEMV/GEMM and the low-bit × sparse GEMVs (kernels/int4.hpp) against
// plain scalar references, on the build's default arch, AVX2 when present, and scalar_arch.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include <xtensor/xtensor.hpp>

#include <compress/kernels/int4.hpp>
#include <compress/kernels/linear_sparse_lowbit.hpp>

#include "lowbit_ref.hpp"

// The whole file in its own namespace: it is compiled in one unity TU with the other files of its
// test program (tests/CMakeLists.txt), and its helpers have the same names as theirs.
namespace test_lowbit_int4 {

using namespace compress;
using namespace compress::detail;
using lowbit_ref::close;

namespace {

/// Packs codes in [-8, 7] the way quantize.hpp does: byte k/2, low nibble for even k.
std::vector<std::uint8_t> pack4(const std::vector<int>& q, std::size_t N, std::size_t K, std::size_t ldw) {
    std::vector<std::uint8_t> out(N * ldw, 0);
    for (std::size_t n = 0; n < N; ++n)
        for (std::size_t k = 0; k < K; ++k) {
            const unsigned nib = static_cast<unsigned>(q[n * K + k]) & 0xFu;
            out[n * ldw + k / 2] |= static_cast<std::uint8_t>(k % 2 ? nib << 4 : nib);
        }
    return out;
}

template <class Arch, class Ext = lowbit_ext_default>
void check_int4(const char* label) {
    struct wcase { std::size_t M, N, K, G; bool per_tensor; };
    const wcase cases[] = {{0, 3, 8, 8, false},      {1, 1, 1, 1, false},      {1, 13, 100, 32, false},
                           {1, 64, 128, 32, false},  {1, 7, 96, 16, false},    {2, 9, 77, 77, false},
                           {3, 20, 96, 48, false},   {4, 17, 130, 32, false},  {9, 33, 257, 64, false},
                           {5, 6, 40, 40, true},     {1, 21, 200, 7, false},   {6, 10, 33, 10, false},
                           {1, 5, 4096, 128, false}, {17, 19, 160, 32, false}, {1, 11, 203, 8, false},
                           {2, 9, 4104, 4104, false}, {1, 3, 1000, 8, true},   {4, 5, 203, 8, false},
                           // GEMV scales converted per segment of 16 chunks: several segments,
                           // the most groups per segment (G = 8), a partial last chunk
                           {1, 3, 4136, 8, false},    {2, 5, 2600, 16, false}};
    unsigned seed = 300;
    for (const auto& c : cases) {
        INFO(std::string(label) + " M=" + std::to_string(c.M) + " N=" + std::to_string(c.N) + " K=" +
             std::to_string(c.K) + " G=" + std::to_string(c.G));
        const auto x = lowbit_ref::randn(c.M * c.K, seed++);
        std::mt19937 gen(seed++);
        std::uniform_int_distribution<int> d(-8, 7);
        std::vector<int> q(c.N * c.K);
        for (auto& v : q) v = d(gen);
        const std::size_t ldw = (c.K + 1) / 2 + 3;  // rows padded further than needed
        const auto w = pack4(q, c.N, c.K, ldw);
        for (std::size_t k = 0; k < c.K; ++k) REQUIRE(s4_code(w.data(), k) == q[k]);
        const std::size_t ng = div_up(c.K, c.G);
        const std::size_t nrows = c.per_tensor ? 1 : c.N;
        std::vector<float> sf(nrows * ng);
        std::vector<std::uint16_t> sh(nrows * ng);
        for (std::size_t i = 0; i < sf.size(); ++i) {
            sh[i] = float_to_fp16(0.05f + 0.007f * static_cast<float>(i % 11));
            sf[i] = fp16_to_float(sh[i]);
        }
        std::vector<float> bias(c.N);
        for (std::size_t n = 0; n < c.N; ++n) bias[n] = -0.1f * static_cast<float>(n % 4);
        std::vector<double> want(c.M * c.N);
        for (std::size_t m = 0; m < c.M; ++m)
            for (std::size_t n = 0; n < c.N; ++n) {
                double s = bias[n];
                for (std::size_t k = 0; k < c.K; ++k)
                    s += double(sf[(c.per_tensor ? 0 : n) * ng + k / c.G]) * q[n * c.K + k] * x[m * c.K + k];
                want[m * c.N + n] = s;
            }
        const std::size_t stride = c.per_tensor ? 0 : ng;
        std::vector<float> Y(c.M * c.N + 1, -7.0f);
        wo_int4_gemm<Arch, Ext>(x.data(), c.M, c.K, c.K, w.data(), c.N, ldw,
                                group_scales<float>{sf.data(), c.G, stride}, bias.data(), Y.data(), c.N);
        for (std::size_t i = 0; i < c.M * c.N; ++i) REQUIRE(close(Y[i], want[i], 1e-4, 2e-4));
        REQUIRE(Y[c.M * c.N] == -7.0f);
        std::fill(Y.begin(), Y.end(), -7.0f);
        wo_int4_gemm<Arch, Ext>(x.data(), c.M, c.K, c.K, w.data(), c.N, ldw,
                                group_scales<std::uint16_t>{sh.data(), c.G, stride}, bias.data(), Y.data(), c.N);
        for (std::size_t i = 0; i < c.M * c.N; ++i) REQUIRE(close(Y[i], want[i], 1e-4, 2e-4));
        REQUIRE(Y[c.M * c.N] == -7.0f);
    }
}

template <class Idx>
struct sparse_case {
    std::size_t N, K;
    std::vector<std::uint32_t> row_ptr;
    std::vector<Idx> cols;
    std::vector<std::int8_t> codes;
    std::vector<std::uint8_t> cb_idx;  // packed nibbles
    std::vector<int> cb_plain;
};

template <class Idx>
sparse_case<Idx> make_sparse(std::size_t N, std::size_t K, double density, unsigned seed) {
    sparse_case<Idx> s;
    s.N = N;
    s.K = K;
    std::mt19937 g(seed);
    std::uniform_real_distribution<double> u(0, 1);
    std::uniform_int_distribution<int> code(-128, 127), cbi(0, 15);
    s.row_ptr.push_back(0);
    for (std::size_t n = 0; n < N; ++n) {
        for (std::size_t k = 0; k < K; ++k)
            if (u(g) < density) {
                s.cols.push_back(static_cast<Idx>(k));
                s.codes.push_back(static_cast<std::int8_t>(code(g)));
                s.cb_plain.push_back(cbi(g));
            }
        s.row_ptr.push_back(static_cast<std::uint32_t>(s.cols.size()));
    }
    s.cb_idx.assign((s.cb_plain.size() + 1) / 2, 0);
    for (std::size_t j = 0; j < s.cb_plain.size(); ++j)
        s.cb_idx[j / 2] |= static_cast<std::uint8_t>(j % 2 ? s.cb_plain[j] << 4 : s.cb_plain[j]);
    return s;
}

template <class Arch, class Idx>
void check_sparse(const char* label, std::size_t N, std::size_t K, double density, unsigned seed) {
    INFO(std::string(label) + " N=" + std::to_string(N) + " K=" + std::to_string(K) + " density=" + std::to_string(density));
    const auto s = make_sparse<Idx>(N, K, density, seed);
    const auto x = lowbit_ref::randn(K, seed + 1);
    std::vector<float> scales(N), bias(N), codebook(16);
    for (std::size_t n = 0; n < N; ++n) {
        scales[n] = 0.01f * static_cast<float>(1 + n % 5);
        bias[n] = 0.5f - 0.1f * static_cast<float>(n % 3);
    }
    for (int i = 0; i < 16; ++i) codebook[static_cast<std::size_t>(i)] = -0.8f + 0.1f * static_cast<float>(i) + 0.003f * i * i;
    std::vector<float> y(N + 1, -7.0f), y2(N + 1, -7.0f);
    sparse_q8_gemv<Arch>(x.data(), N, s.row_ptr.data(), s.cols.data(), s.codes.data(), scales.data(), N, bias.data(), y.data());
    sparse_codebook4_gemv<Arch>(x.data(), N, s.row_ptr.data(), s.cols.data(), s.cb_idx.data(), codebook.data(), bias.data(),
                                y2.data());
    for (std::size_t n = 0; n < N; ++n) {
        // fp32 sums in another order: the error bound scales with Σ|term|, not with the result
        double a = 0, b = 0, aa = 0, ba = 0;
        for (std::size_t j = s.row_ptr[n]; j < s.row_ptr[n + 1]; ++j) {
            a += double(s.codes[j]) * x[s.cols[j]];
            aa += std::fabs(double(s.codes[j]) * x[s.cols[j]]);
            b += double(codebook[static_cast<std::size_t>(s.cb_plain[j])]) * x[s.cols[j]];
            ba += std::fabs(double(codebook[static_cast<std::size_t>(s.cb_plain[j])]) * x[s.cols[j]]);
        }
        REQUIRE(std::fabs(y[n] - (scales[n] * a + bias[n])) <= 1e-5 * (scales[n] * aa + 1.0));
        REQUIRE(std::fabs(y2[n] - (b + bias[n])) <= 1e-5 * (ba + 1.0));
    }
    REQUIRE(y[N] == -7.0f);
    REQUIRE(y2[N] == -7.0f);
}

}  // namespace

TEST_CASE("weight-only int4 GEMV/GEMM with float and fp16 group scales, " COMPRESS_TEST_ARCH " build", "[lowbit][int4]") {
    check_int4<xsimd::default_arch>("default");
    check_int4<scalar_arch>("scalar");
#if COMPRESS_HAS_BF16512
    // the default GEMV above is the AVX512_BF16 one: the fp32 AVX-512 GEMV as well
    STATIC_REQUIRE(s4_use_bf16<xsimd::default_arch, lowbit_ext_default>());
    STATIC_REQUIRE_FALSE(s4_use_bf16<xsimd::default_arch, lowbit_ext_none>());
    check_int4<xsimd::default_arch, lowbit_ext_none>("default without BF16");
#endif
#if defined(__AVX2__)
    check_int4<xsimd::fma3<xsimd::avx2>>("avx2");
#endif
}

TEST_CASE("s4 permutation: lane j of nibble vector i is element 8j + i, the tail chunk zero-padded", "[lowbit][int4]") {
    // chunk 64 (AVX2 width, W = 8): out[c + 8i + j] = x[c + 8j + i]; K = 150 → 3 chunks, 192 entries
    std::vector<float> x(150), out(192, -1.0f);
    for (std::size_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>(i + 1);
    s4_permute(x.data(), 150, 64, out.data());
    CHECK(out[0] == 1.0f);     // i = 0, j = 0: element 0
    CHECK(out[1] == 9.0f);     // i = 0, j = 1: element 8
    CHECK(out[8] == 2.0f);     // i = 1, j = 0: element 1
    CHECK(out[63] == 64.0f);   // i = 7, j = 7: element 63
    CHECK(out[64 + 9] == 74.0f);  // chunk 1, i = 1, j = 1: element 64 + 9
    CHECK(out[128 + 2] == 145.0f);  // chunk 2, i = 0, j = 2: element 144
    CHECK(out[128 + 3] == 0.0f);    // element 152 ≥ K: padding
    CHECK(out[128 + 8 * 5 + 2] == 150.0f);  // element 149 (i = 5, j = 2), the last one
    CHECK(out[128 + 8 * 6 + 2] == 0.0f);    // element 150: padding
    std::vector<float> nonzero;
    for (float v : out)
        if (v != 0.0f) nonzero.push_back(v);
    std::sort(nonzero.begin(), nonzero.end());
    CHECK(nonzero == x);
    // chunk 0: a plain copy
    std::vector<float> same(150);
    s4_permute(x.data(), 150, 0, same.data());
    CHECK(same == x);
}

TEST_CASE("s4 lane groups: each lane's first element, relative to the chunk's first group", "[lowbit][int4]") {
    // chunk 128 (W = 16), G = 48: lane j of chunk c covers elements 128c + 8j ..
    const auto lanes = s4_lane_groups(300, 128, 48);
    const auto& idx = lanes.idx;
    REQUIRE(idx.size() == 3 * 16);
    REQUIRE(lanes.first.size() == 3);
    CHECK(lanes.first[0] == 0);
    CHECK(lanes.first[1] == 2);  // 128 / 48
    CHECK(lanes.first[2] == 5);  // 256 / 48
    CHECK(idx[0] == 0);
    CHECK(idx[5] == 0);   // element 40 → group 0
    CHECK(idx[6] == 1);   // element 48 → group 1
    CHECK(idx[15] == 2);  // element 120 → group 2
    CHECK(idx[16] == 0);  // chunk 1 starts at 128, group 2
    CHECK(idx[16 + 2] == 1);  // element 144 → group 3
    CHECK(idx[32 + 15] == 2);  // chunk 2 (group 5 at 256): element 376 → group 7
}

TEST_CASE("bf16 split of x: hi + lo within 2^-16 |x|, permuted for vdpbf16ps, non-finite kept", "[lowbit][int4]") {
    // K = 150: two chunks of 128, 512 entries; word 2j + h of vector i holds element 8j + 4h + i
    std::vector<float> x(150);
    for (std::size_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>(i + 1) * (i % 2 ? 1.001f : -0.37f) * std::ldexp(1.0f, int(i % 40) - 20);
    x[5] = 0.0f;
    std::vector<std::uint16_t> out(512, 0xFFFF);
    s4_bf16_split(x.data(), 150, out.data());
    for (std::size_t c = 0; c < 2; ++c)
        for (std::size_t i = 0; i < 4; ++i)
            for (std::size_t j = 0; j < 16; ++j)
                for (std::size_t h = 0; h < 2; ++h) {
                    const std::size_t e = 128 * c + 8 * j + 4 * h + i, o = 256 * c + 32 * i + 2 * j + h;
                    const double hi = bf16_to_float(out[o]), lo = bf16_to_float(out[o + 128]);
                    if (e >= 150) {
                        REQUIRE(out[o] == 0);
                        REQUIRE(out[o + 128] == 0);
                        continue;
                    }
                    INFO("element " << e);
                    REQUIRE(std::fabs(x[e] - hi) <= std::ldexp(std::fabs(double(x[e])), -8));  // hi: bf16 rounding
                    REQUIRE(std::fabs(x[e] - hi - lo) <= std::ldexp(std::fabs(double(x[e])), -16));
                    // the branch-free rounding is the library's float_to_bf16 (saturating for hi)
                    REQUIRE(out[o] == float_to_bf16(x[e], true));
                    REQUIRE(out[o + 128] == float_to_bf16(x[e] - static_cast<float>(hi)));
                }
    CHECK(out[32 * 1 + 0] == float_to_bf16(x[1]));   // vector 1, word 0: element 1
    CHECK(out[32 * 0 + 1] == float_to_bf16(x[4]));   // vector 0, word 1: element 4
    CHECK(out[32 * 3 + 3] == float_to_bf16(x[15]));  // vector 3, word 3 (j 1, h 1): element 15
    // x = 1 + 2^-9 + 2^-20: hi rounds to 1 (a tie at 2^-8 would go even), lo = bf16(2^-9 + 2^-20)
    const float t[3] = {1.0f + std::ldexp(1.0f, -9) + std::ldexp(1.0f, -20), std::numeric_limits<float>::max(),
                        -std::numeric_limits<float>::infinity()};
    std::vector<std::uint16_t> o3(256);
    s4_bf16_split(t, 3, o3.data());
    CHECK(o3[0] == 0x3F80);
    CHECK(bf16_to_float(o3[128]) == std::ldexp(1.0f, -9));  // 2^-9 + 2^-20 rounds to 2^-9 in bf16
    CHECK(o3[32] == 0x7F7F);  // element 1, FLT_MAX, would round to +Inf: the largest finite bf16 instead
    CHECK(std::fabs(double(t[1]) - bf16_to_float(o3[32]) - bf16_to_float(o3[32 + 128])) <=
          std::ldexp(double(t[1]), -16));
    CHECK(o3[64] == 0xFF80);  // element 2: -Inf stays -Inf, lo 0
    CHECK(o3[64 + 128] == 0);
    const float nan = std::numeric_limits<float>::quiet_NaN();
    s4_bf16_split(&nan, 1, o3.data());
    CHECK(std::isnan(bf16_to_float(o3[0])));
    CHECK(o3[128] == 0);
}

#if COMPRESS_HAS_BF16512
TEST_CASE("weight-only int4 GEMV on AVX512_BF16: within (2^-16 + (chunks + 24)·2^-24)·Σ|s·q·x| of the exact sum",
          "[lowbit][int4]") {
    // The stated bound of docs/lowbit.md: x = hi + lo (two bf16, error <= 2^-16 |x|), products
    // exact, fp32 sums (one rounding per addition: per chunk, then across the chunks and lanes).
    struct bcase { std::size_t N, K, G; float xscale; };
    const bcase cases[] = {{5, 4104, 32, 1.0f}, {7, 300, 8, 1e-3f}, {4, 1000, 40, 3e4f}, {9, 128, 128, 1.0f}};
    unsigned seed = 900;
    for (const auto& c : cases) {
        INFO("N=" << c.N << " K=" << c.K << " G=" << c.G);
        auto x = lowbit_ref::randn(c.K, seed++, c.xscale);
        for (std::size_t k = 0; k < c.K; k += 7) x[k] *= 1000.0f;  // a wide range within the row
        std::mt19937 gen(seed++);
        std::uniform_int_distribution<int> d(-8, 7);
        std::vector<int> q(c.N * c.K);
        for (auto& v : q) v = d(gen);
        const std::size_t ldw = (c.K + 1) / 2, ng = div_up(c.K, c.G);
        const auto w = pack4(q, c.N, c.K, ldw);
        std::vector<float> sf(c.N * ng);
        for (std::size_t i = 0; i < sf.size(); ++i) sf[i] = 0.01f + 0.003f * static_cast<float>(i % 13);
        std::vector<float> y(c.N), y32(c.N);
        const group_scales<float> gs{sf.data(), c.G, ng};
        wo_int4_gemm<xsimd::default_arch, lowbit_ext_default>(x.data(), 1, c.K, c.K, w.data(), c.N, ldw, gs, nullptr,
                                                              y.data(), c.N);
        wo_int4_gemm<xsimd::default_arch, lowbit_ext_none>(x.data(), 1, c.K, c.K, w.data(), c.N, ldw, gs, nullptr,
                                                           y32.data(), c.N);
        const double rel = std::ldexp(1.0, -16) + double(div_up(c.K, 128) + 24) * std::ldexp(1.0, -24);
        for (std::size_t n = 0; n < c.N; ++n) {
            double exact = 0, mag = 0;
            for (std::size_t k = 0; k < c.K; ++k) {
                const double term = double(sf[n * ng + k / c.G]) * q[n * c.K + k] * x[k];
                exact += term;
                mag += std::fabs(term);
            }
            INFO("row " << n << ": " << y[n] << " vs " << exact << ", Σ|term| " << mag);
            CHECK(std::fabs(y[n] - exact) <= rel * mag);
            CHECK(std::fabs(y32[n] - exact) <= rel * mag);  // the fp32 GEMV meets it as well
        }
    }
    // an infinite activation gives ±Inf, as in fp32 (every code of the row 3: no 0 · Inf)
    std::vector<float> x(256, 0.5f);
    x[77] = std::numeric_limits<float>::infinity();
    const std::vector<std::uint8_t> w(128, 0x33);
    const std::vector<float> s1(8, 0.5f);
    float y = 0.0f;
    wo_int4_gemm<xsimd::default_arch, lowbit_ext_default>(x.data(), 1, 256, 256, w.data(), 1, 128,
                                                          group_scales<float>{s1.data(), 32, 8}, nullptr, &y, 1);
    CHECK(y == std::numeric_limits<float>::infinity());
}
#endif

TEST_CASE("int8 / codebook-int4 × sparse GEMV (Deep Compression), " COMPRESS_TEST_ARCH " build", "[lowbit][sparse]") {
    for (double density : {0.0, 0.05, 0.3, 1.0}) {
        check_sparse<xsimd::default_arch, std::uint8_t>("default u8 idx", 37, 200, density, 11);
        check_sparse<xsimd::default_arch, std::uint16_t>("default u16 idx", 20, 1000, density, 12);
        check_sparse<xsimd::default_arch, std::uint32_t>("default u32 idx", 9, 70000, density / 10, 13);
        check_sparse<scalar_arch, std::uint16_t>("scalar u16 idx", 20, 1000, density, 14);
    }
    check_sparse<xsimd::default_arch, std::uint8_t>("default, one row", 1, 33, 0.5, 15);
    check_sparse<xsimd::default_arch, std::uint8_t>("default, no rows", 0, 33, 0.5, 16);
}

// ---------------------------------------------------------------------------------------
// Public Deep-Compression weights: sparse_int8_weights / sparse_codebook_weights + linear.
// The references below re-derive codes, scales and codebook assignments from the definition
// (per-row max|w| / 127, round half even; nearest entry, ties to the lower index).
// ---------------------------------------------------------------------------------------
namespace {

/// A pruned layer: about `density` of the weights nonzero, row 1 entirely zero when N > 1.
xt::xtensor<float, 2> pruned(std::size_t N, std::size_t K, double density, unsigned seed) {
    std::mt19937 g(seed);
    std::uniform_real_distribution<double> u(0, 1);
    std::normal_distribution<float> d(0.0f, 0.3f);
    xt::xtensor<float, 2> w = xt::zeros<float>({N, K});
    for (std::size_t n = 0; n < N; ++n)
        for (std::size_t k = 0; k < K; ++k)
            if (n != 1 && u(g) < density) w(n, k) = d(g);
    return w;
}

template <class Arch>
void check_sparse_public(const char* label, std::size_t M, std::size_t N, std::size_t K, double density, unsigned seed) {
    INFO(std::string(label) + " M=" + std::to_string(M) + " N=" + std::to_string(N) + " K=" + std::to_string(K));
    const auto w = pruned(N, K, density, seed);
    const auto xv = lowbit_ref::randn(M * K, seed + 1);
    xt::xtensor<float, 2> x = xt::xtensor<float, 2>::from_shape({M, K});
    std::copy(xv.begin(), xv.end(), x.begin());
    xt::xtensor<float, 1> bias = xt::xtensor<float, 1>::from_shape({N});
    for (std::size_t n = 0; n < N; ++n) bias(n) = 0.25f - 0.1f * static_cast<float>(n % 5);

    // int8 codes with per-row scales
    const auto sw = sparse_int8_weights::from_dense(w);
    REQUIRE(sw.rows() == N);
    REQUIRE(sw.cols() == K);
    std::vector<float> scale(N, 0.0f);
    std::vector<int> code(N * K, 0);
    std::size_t nnz = 0;
    for (std::size_t n = 0; n < N; ++n) {
        float mx = 0;
        for (std::size_t k = 0; k < K; ++k) mx = std::max(mx, std::fabs(w(n, k)));
        scale[n] = mx / 127.0f;
        for (std::size_t k = 0; k < K; ++k)
            if (w(n, k) != 0.0f) {
                ++nnz;
                code[n * K + k] = static_cast<int>(std::nearbyint(w(n, k) / scale[n]));
            }
    }
    REQUIRE(sw.nnz() == nnz);
    const std::size_t iw = K <= 256 ? 1 : K <= 65536 ? 2 : 4;
    REQUIRE(sw.bytes() == nnz * (1 + iw) + (N + 1) * 4 + N * 4);
    for (std::size_t n = 0; n < N; ++n) {
        REQUIRE(sw.scale(n) == scale[n]);
        for (std::size_t p = sw.codes().row_ptr()[n]; p < sw.codes().row_ptr()[n + 1]; ++p)
            REQUIRE(int(sw.codes().values()[p]) == code[n * K + sw.codes().col(p)]);
    }
    // codebook of 11 entries (not a power of two), shared by every row
    std::vector<float> cb;
    for (int i = 0; i < 11; ++i) cb.push_back(-0.5f + 0.1f * static_cast<float>(i));
    const auto cw = sparse_codebook_weights::from_dense(w, cb);
    REQUIRE(cw.nnz() == nnz);
    REQUIRE(cw.codebook() == cb);
    REQUIRE(cw.bytes() == (nnz + 1) / 2 + nnz * iw + (N + 1) * 4 + 16 * 4);
    std::vector<int> cidx(N * K, -1);
    for (std::size_t n = 0; n < N; ++n)
        for (std::size_t k = 0; k < K; ++k)
            if (w(n, k) != 0.0f) {
                int best = 0;
                for (int i = 1; i < 11; ++i)
                    if (std::fabs(w(n, k) - cb[std::size_t(i)]) < std::fabs(w(n, k) - cb[std::size_t(best)])) best = i;
                cidx[n * K + k] = best;
            }
    for (std::size_t n = 0; n < N; ++n)
        for (std::size_t p = cw.row_ptr()[n]; p < cw.row_ptr()[n + 1]; ++p)
            REQUIRE(int(cw.index(p)) == cidx[n * K + cw.col(p)]);

    const auto y8 = linear<Arch>(x, sw, bias);
    const auto y8n = linear<Arch>(x, sw);
    const auto yc = linear<Arch>(x, cw, bias);
    const auto ycn = linear<Arch>(x, cw);
    REQUIRE(y8.shape()[0] == M);
    REQUIRE(y8.shape()[1] == N);
    REQUIRE(yc.shape()[0] == M);
    for (std::size_t m = 0; m < M; ++m)
        for (std::size_t n = 0; n < N; ++n) {
            double a = 0, aa = 0, c = 0, ca = 0;
            for (std::size_t k = 0; k < K; ++k) {
                if (w(n, k) == 0.0f) continue;
                const double t8 = double(scale[n]) * code[n * K + k] * x(m, k);
                const double tc = double(cb[std::size_t(cidx[n * K + k])]) * x(m, k);
                a += t8;
                aa += std::fabs(t8);
                c += tc;
                ca += std::fabs(tc);
            }
            REQUIRE(std::fabs(y8(m, n) - (a + bias(n))) <= 1e-5 * (aa + 1.0));
            REQUIRE(std::fabs(y8n(m, n) - a) <= 1e-5 * (aa + 1.0));
            REQUIRE(std::fabs(yc(m, n) - (c + bias(n))) <= 1e-5 * (ca + 1.0));
            REQUIRE(std::fabs(ycn(m, n) - c) <= 1e-5 * (ca + 1.0));
        }
}

}  // namespace

TEST_CASE("sparse_int8_weights / sparse_codebook_weights through linear, " COMPRESS_TEST_ARCH " build",
          "[lowbit][sparse]") {
    check_sparse_public<xsimd::default_arch>("default", 3, 37, 200, 0.3, 40);
    check_sparse_public<xsimd::default_arch>("default", 1, 20, 1000, 0.1, 41);
    check_sparse_public<xsimd::default_arch>("default", 2, 4, 70000, 0.002, 42);
    check_sparse_public<xsimd::default_arch>("default", 0, 5, 33, 0.5, 43);
    check_sparse_public<xsimd::default_arch>("default", 2, 6, 17, 1.0, 44);
    check_sparse_public<scalar_arch>("scalar", 3, 37, 200, 0.3, 45);
    check_sparse_public<scalar_arch>("scalar", 1, 20, 1000, 0.1, 46);
#if defined(__AVX2__)
    check_sparse_public<xsimd::fma3<xsimd::avx2>>("avx2", 3, 37, 200, 0.3, 47);
#endif
}

TEST_CASE("sparse low-bit weights: mask, from_parts and round trip", "[lowbit][sparse]") {
    // a mask may keep zeros (stored explicitly) and drop nonzeros
    xt::xtensor<float, 2> w = {{0.5f, -1.0f, 0.0f, 0.25f}, {0.0f, 0.0f, 2.0f, -2.0f}};
    mask<2> m({2, 4}, true);
    m.set(1, false);  // drops -1.0
    const auto sw = sparse_int8_weights::from_dense(w, m);
    CHECK(sw.nnz() == 7);
    CHECK(sw.scale(0) == 0.5f / 127.0f);  // max over KEPT weights
    CHECK(sw.scale(1) == 2.0f / 127.0f);
    const auto d = sw.to_dense();
    CHECK(d(0, 1) == 0.0f);
    CHECK(d(0, 0) == Approx(0.5f));
    CHECK(d(0, 3) == Approx(0.25f).epsilon(0.01));
    CHECK(d(1, 3) == Approx(-2.0f));

    // from_parts: explicit codes and one shared scale
    const auto codes = csr<std::int8_t>::from_parts(2, 3, {0, 2, 3}, {0, 2, 1}, {10, -3, 127});
    const auto p = sparse_int8_weights::from_parts(codes, {0.5f});
    xt::xtensor<float, 2> x = {{1.0f, 2.0f, 3.0f}};
    const auto y = linear(x, p);
    CHECK(y(0, 0) == 0.5f * (10 * 1 - 3 * 3));
    CHECK(y(0, 1) == 0.5f * (127 * 2));

    // codebook: indices from k-means, ties to the lower entry
    const auto idx = csr<std::uint8_t>::from_parts(1, 4, {0, 3}, {0, 1, 3}, {2, 0, 1});
    const auto cw = sparse_codebook_weights::from_parts(idx, {-1.0f, 1.0f, 4.0f});
    xt::xtensor<float, 2> x4 = {{1.0f, 10.0f, 100.0f, 1000.0f}};
    CHECK(linear(x4, cw)(0, 0) == 4.0f - 10.0f + 1000.0f);
    xt::xtensor<float, 2> tie = {{0.0f, 0.5f}};  // from_dense stores the nonzero 0.5 only
    const auto ct = sparse_codebook_weights::from_dense(tie, {0.0f, 1.0f});
    CHECK(ct.nnz() == 1);
    CHECK(ct.index(0) == 0);  // 0.5 is as close to 0 as to 1: the lower index wins
}

TEST_CASE("sparse low-bit weights: bad input", "[lowbit][sparse][errors]") {
    using Catch::Matchers::Contains;
    xt::xtensor<float, 2> w = {{0.5f, -1.0f, 0.0f}, {0.0f, 0.0f, 2.0f}};
    const auto sw = sparse_int8_weights::from_dense(w);
    const auto cw = sparse_codebook_weights::from_dense(w, {-1.0f, 0.5f, 2.0f});
    xt::xtensor<float, 2> x = {{1.0f, 2.0f, 3.0f}};
    xt::xtensor<float, 2> x_wide = {{1.0f, 2.0f, 3.0f, 4.0f}};
    xt::xtensor<float, 3> x3 = xt::zeros<float>({1, 1, 3});
    xt::xtensor<float, 1> b3 = {1.0f, 2.0f, 3.0f};
    xt::xtensor<float, 2> xnan = x;
    xnan(0, 1) = std::numeric_limits<float>::quiet_NaN();

    CHECK_THROWS_AS(linear(x_wide, sw), shape_error);
    CHECK_THROWS_WITH(linear(x_wide, sw), Contains("linear(x, sparse_int8_weights)") &&
                                              Contains("has 4 features but the weight [2, 3] expects 3"));
    CHECK_THROWS_AS(linear(x3, cw), shape_error);
    CHECK_THROWS_WITH(linear(x3, cw), Contains("linear(x, sparse_codebook_weights): input x must be 2-d"));
    CHECK_THROWS_AS(linear(x, sw, b3), shape_error);
    CHECK_THROWS_WITH(linear(x, sw, b3), Contains("bias of shape [3] does not fit 2 output features"));
    CHECK_THROWS_AS(linear(x, cw, b3), shape_error);
    CHECK_THROWS_AS(linear(xnan, sw), value_error);
    CHECK_THROWS_WITH(linear(xnan, cw), Contains("'x' has a non-finite value (NaN) at (0, 1)"));

    xt::xtensor<float, 2> wnan = w;
    wnan(1, 2) = std::numeric_limits<float>::infinity();
    CHECK_THROWS_AS(sparse_int8_weights::from_dense(wnan), value_error);
    CHECK_THROWS_WITH(sparse_int8_weights::from_dense(wnan), Contains("non-finite value (Inf) at (1, 2)"));
    xt::xtensor<float, 1> w1 = {1.0f, 2.0f};
    CHECK_THROWS_AS(sparse_codebook_weights::from_dense(w1, {1.0f}), shape_error);
    CHECK_THROWS_AS(sparse_int8_weights::from_dense(w, mask<2>({3, 3})), shape_error);
    CHECK_THROWS_WITH(sparse_int8_weights::from_dense(w, mask<2>({3, 3})), Contains("mask of shape [3, 3] does not fit"));

    const auto codes = csr<std::int8_t>::from_parts(2, 3, {0, 1, 2}, {0, 2}, {1, 2});
    CHECK_THROWS_AS(sparse_int8_weights::from_parts(codes, {1.0f, 2.0f, 3.0f}), format_error);
    CHECK_THROWS_WITH(sparse_int8_weights::from_parts(codes, {1.0f, 2.0f, 3.0f}),
                      Contains("3 row scales for 2 rows (expected 2 or 1)"));
    CHECK_THROWS_AS(sparse_int8_weights::from_parts(codes, {1.0f, -2.0f}), value_error);
    CHECK_THROWS_WITH(sparse_int8_weights::from_parts(codes, {1.0f, std::nanf("")}),
                      Contains("row scale 1 must be finite and >= 0"));

    CHECK_THROWS_AS(sparse_codebook_weights::from_dense(w, {}), value_error);
    CHECK_THROWS_WITH(sparse_codebook_weights::from_dense(w, std::vector<float>(17, 1.0f)),
                      Contains("the codebook must have 1 to 16 entries (4-bit indices), got 17"));
    CHECK_THROWS_WITH(sparse_codebook_weights::from_dense(w, {1.0f, std::numeric_limits<float>::infinity()}),
                      Contains("codebook entry 1 is not finite (Inf)"));
    const auto idx = csr<std::uint8_t>::from_parts(2, 3, {0, 1, 2}, {0, 2}, {1, 3});
    CHECK_THROWS_AS(sparse_codebook_weights::from_parts(idx, {1.0f, 2.0f, 3.0f}), format_error);
    CHECK_THROWS_WITH(sparse_codebook_weights::from_parts(idx, {1.0f, 2.0f, 3.0f}),
                      Contains("codebook index 3 at (1, 2) is out of range for a codebook of 3 entries"));
}

}  // namespace test_lowbit_int4
