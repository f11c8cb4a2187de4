// Binary and ternary XNOR/AND-popcount kernels (kernels/binary.hpp) against a ±1 reference
// on unpacked values, on every path the build has (VPOPCNTDQ, AVX-512BW lookup, AVX2 lookup,
// scalar popcount).
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include <compress/kernels/binary.hpp>

#include "lowbit_ref.hpp"

// The whole file in its own namespace: it is compiled in one unity TU with the other files of its
// test program (tests/CMakeLists.txt), and its helpers have the same names as theirs.
namespace test_lowbit_binary {

using namespace compress;
using namespace compress::detail;
using lowbit_ref::close;

namespace {

struct shape { std::size_t M, N, K; };
const shape shapes[] = {{0, 4, 10},  {1, 1, 1},    {1, 5, 63},   {2, 8, 64},    {3, 9, 65},   {4, 4, 512},
                        {5, 13, 700}, {9, 16, 129}, {7, 6, 1000}, {16, 33, 577}, {1, 3, 4096},
                        {8, 12, 1024}};  // whole 8-word steps: the assembly 4x4 tile with VPOPCNTDQ

/// Packs signs (+1 → bit 1) the way quantize.hpp does: bit k%64 of word k/64, padding 0.
std::vector<std::uint64_t> pack_bits(const std::vector<int>& v, std::size_t rows, std::size_t K, std::size_t wld) {
    std::vector<std::uint64_t> out(rows * wld, 0);
    for (std::size_t r = 0; r < rows; ++r)
        for (std::size_t k = 0; k < K; ++k)
            if (v[r * K + k] > 0) out[r * wld + k / 64] |= std::uint64_t(1) << (k % 64);
    return out;
}

template <class Arch, class Ext>
void check_paths(const char* label) {
    unsigned seed = 500;
    for (const auto& s : shapes) {
        INFO(std::string(label) + " M=" + std::to_string(s.M) + " N=" + std::to_string(s.N) + " K=" + std::to_string(s.K));
        auto x = lowbit_ref::randn(s.M * s.K, seed++);
        if (s.M * s.K > 3) x[2] = 0.0f;  // sign(0) = +1
        std::mt19937 g(seed++);
        std::uniform_int_distribution<int> t3(-1, 1), b2(0, 1);
        std::vector<int> wb(s.N * s.K), wt(s.N * s.K);
        for (auto& v : wb) v = b2(g) ? 1 : -1;
        for (auto& v : wt) v = t3(g);
        const std::size_t wld = div_up(s.K, 64) + (s.N % 2);  // sometimes a padded row stride
        const auto bits = pack_bits(wb, s.N, s.K, wld);
        std::vector<int> neg(s.N * s.K), nz(s.N * s.K);
        for (std::size_t i = 0; i < wt.size(); ++i) {
            neg[i] = wt[i] < 0;
            nz[i] = wt[i] != 0;
        }
        const auto negp = pack_bits(neg, s.N, s.K, wld), nzp = pack_bits(nz, s.N, s.K, wld);
        std::vector<float> alpha(s.N), bias(s.N);
        for (std::size_t n = 0; n < s.N; ++n) {
            alpha[n] = 0.1f + 0.01f * static_cast<float>(n);
            bias[n] = 0.25f * static_cast<float>(n % 3);
        }
        bin_activations a;
        binarize_activations<Arch>(x.data(), s.M, s.K, s.K, a);
        std::vector<int> xs(s.M * s.K);
        for (std::size_t m = 0; m < s.M; ++m) {
            double asum = 0;
            for (std::size_t k = 0; k < s.K; ++k) {
                xs[m * s.K + k] = x[m * s.K + k] >= 0.0f ? 1 : -1;
                asum += std::fabs(x[m * s.K + k]);
                REQUIRE(((a.bits[m * a.ld + k / 64] >> (k % 64)) & 1u) == (xs[m * s.K + k] > 0 ? 1u : 0u));
            }
            for (std::size_t k = s.K; k < a.ld * 64; ++k) REQUIRE(((a.bits[m * a.ld + k / 64] >> (k % 64)) & 1u) == 0u);
            REQUIRE(close(a.scales[m], asum / double(s.K), 1e-5, 1e-7));
        }
        for (int ternary = 0; ternary < 2; ++ternary) {
            INFO(std::string(ternary ? "ternary" : "binary"));
            const auto& wv = ternary ? wt : wb;
            bin_weights w;
            w.n = s.N;
            w.k = s.K;
            w.wld = wld;
            w.bits = ternary ? negp.data() : bits.data();
            w.nonzero = ternary ? nzp.data() : nullptr;
            w.alpha = alpha.data();
            w.n_alpha = s.N;
            std::vector<std::int32_t> D(s.M * s.N + 1, -7);
            bin_gemm_s32<Arch, Ext>(a, w, D.data(), s.N);
            std::vector<float> Y(s.M * s.N + 1, -7.0f);
            bin_gemm<Arch, Ext>(a, w, bias.data(), Y.data(), s.N);
            for (std::size_t m = 0; m < s.M; ++m)
                for (std::size_t n = 0; n < s.N; ++n) {
                    int d = 0;
                    for (std::size_t k = 0; k < s.K; ++k) d += xs[m * s.K + k] * wv[n * s.K + k];
                    REQUIRE(D[m * s.N + n] == d);
                    REQUIRE(close(Y[m * s.N + n], double(a.scales[m]) * alpha[n] * d + bias[n], 1e-6, 1e-6));
                }
            REQUIRE(D[s.M * s.N] == -7);
            REQUIRE(Y[s.M * s.N] == -7.0f);
        }
    }
}

}  // namespace

TEST_CASE("binary and ternary popcount GEMM exact on every path, " COMPRESS_TEST_ARCH " build", "[lowbit][binary]") {
    check_paths<xsimd::default_arch, lowbit_ext_default>("default");
    check_paths<xsimd::default_arch, lowbit_ext_none>("default without VPOPCNTDQ");
    check_paths<scalar_arch, lowbit_ext_none>("scalar");
#if defined(__AVX2__)
    check_paths<xsimd::fma3<xsimd::avx2>, lowbit_ext_none>("avx2 lookup");
#endif
}

TEST_CASE("binary: a per-tensor alpha and no bias", "[lowbit][binary]") {
    // x = [1, -2, 0.5] → bits 1,0,1, β = 3.5/3; w = [+,+,-] → D = 1 - 2·... = 1·1 + (-1)·1 + 1·(-1) = -1
    std::vector<float> x = {1.0f, -2.0f, 0.5f};
    bin_activations a;
    binarize_activations(x.data(), 1, 3, 3, a);
    CHECK(a.bits[0] == 0b101u);
    std::vector<std::uint64_t> wbits = {0b011u};
    float alpha = 2.0f;
    bin_weights w;
    w.n = 1;
    w.k = 3;
    w.wld = 1;
    w.bits = wbits.data();
    w.alpha = &alpha;
    w.n_alpha = 1;
    float y = 0;
    bin_gemm(a, w, nullptr, &y, 1);
    CHECK(y == Approx(-1.0 * 2.0 * 3.5 / 3.0));
}

}  // namespace test_lowbit_binary
