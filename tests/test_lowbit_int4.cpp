// Weight-only int4 GEMV/GEMM and the low-bit × sparse GEMVs (kernels/int4.hpp) against
// plain scalar references, on the build's default arch, AVX2 when present, and scalar_arch.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include <compress/kernels/int4.hpp>

#include "lowbit_ref.hpp"

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

template <class Arch>
void check_int4(const char* label) {
    struct wcase { std::size_t M, N, K, G; bool per_tensor; };
    const wcase cases[] = {{0, 3, 8, 8, false},      {1, 1, 1, 1, false},      {1, 13, 100, 32, false},
                           {1, 64, 128, 32, false},  {1, 7, 96, 16, false},    {2, 9, 77, 77, false},
                           {3, 20, 96, 48, false},   {4, 17, 130, 32, false},  {9, 33, 257, 64, false},
                           {5, 6, 40, 40, true},     {1, 21, 200, 7, false},   {6, 10, 33, 10, false},
                           {1, 5, 4096, 128, false}, {17, 19, 160, 32, false}};
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
            sh[i] = float_to_half(0.05f + 0.007f * static_cast<float>(i % 11));
            sf[i] = half_to_float(sh[i]);
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
        wo_int4_gemm<Arch>(x.data(), c.M, c.K, c.K, w.data(), c.N, ldw, group_scales<float>{sf.data(), c.G, stride},
                           bias.data(), Y.data(), c.N);
        for (std::size_t i = 0; i < c.M * c.N; ++i) REQUIRE(close(Y[i], want[i], 1e-4, 2e-4));
        REQUIRE(Y[c.M * c.N] == -7.0f);
        std::fill(Y.begin(), Y.end(), -7.0f);
        wo_int4_gemm<Arch>(x.data(), c.M, c.K, c.K, w.data(), c.N, ldw,
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
#if defined(__AVX2__)
    check_int4<xsimd::fma3<xsimd::avx2>>("avx2");
#endif
}

TEST_CASE("s4 permutation keeps every element and the tail in place", "[lowbit][int4]") {
    std::vector<float> x(70), out(70);
    for (std::size_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>(i);
    s4_permute(x.data(), 70, 32, out.data());
    CHECK(out[0] == 0.0f);
    CHECK(out[1] == 2.0f);
    CHECK(out[16] == 1.0f);
    CHECK(out[31] == 31.0f);
    CHECK(out[32] == 32.0f);
    CHECK(out[48] == 33.0f);
    CHECK(out[64] == 64.0f);
    CHECK(out[69] == 69.0f);
    std::sort(out.begin(), out.end());
    CHECK(out == x);
}

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
