// Property tests of the kernels over random shapes and seeds (issue 10): every kernel, on the
// build's default arch (AVX-512 / AVX2 / SSE2 builds of this file) and on compress::scalar_arch,
// equals an independent reference computed here from the unpacked codes in 64-bit integers or
// doubles: integer kernels exactly (and identically on both paths), float kernels to rounding.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include <compress/kernels/binary.hpp>
#include <compress/kernels/gemm.hpp>
#include <compress/kernels/int4.hpp>
#include <compress/kernels/int8.hpp>

// The whole file in its own namespace: it is compiled in one unity TU with the other files of its
// test program (tests/CMakeLists.txt), and its helpers have the same names as theirs.
namespace test_properties_kernels {

using namespace compress;
using namespace compress::detail;

namespace {

std::size_t pick(std::mt19937& rng, std::size_t lo, std::size_t hi) {
    return std::uniform_int_distribution<std::size_t>(lo, hi)(rng);
}

std::vector<float> randn(std::size_t n, std::mt19937& rng) {
    std::normal_distribution<float> d(0.0f, 1.0f);
    std::vector<float> v(n);
    for (auto& x : v) x = d(rng);
    return v;
}

bool close(double got, double want, double rel, double abs_tol) {
    return std::fabs(got - want) <= abs_tol + rel * std::fabs(want);
}

}  // namespace

TEST_CASE("properties: W8A8 int32 sums equal the integer reference on both paths, " COMPRESS_TEST_ARCH " build",
          "[properties][kernels]") {
    std::mt19937 rng(4001);
    for (int i = 0; i < 30; ++i) {
        const std::size_t M = pick(rng, 0, 9), N = pick(rng, 1, 90), K = pick(rng, 1, 300);
        INFO("M=" << M << " N=" << N << " K=" << K);
        const auto x = randn(M * K, rng);
        std::vector<std::int8_t> w(N * K);
        for (auto& v : w) v = static_cast<std::int8_t>(std::uniform_int_distribution<int>(-128, 127)(rng));
        std::vector<float> sw(N, 0.01f);
        std::vector<std::int32_t> zw(N);
        const bool affine = i % 2 == 1;
        for (auto& z : zw) z = affine ? std::uniform_int_distribution<int>(-20, 20)(rng) : 0;
        const auto packed = pack_w8a8(w.data(), N, K, K, sw.data(), N, affine ? zw.data() : nullptr, affine ? N : 0);
        q8_activations a, a_scalar;
        quantize_activations_dynamic(x.data(), M, K, K, a);
        quantize_activations_dynamic<scalar_arch>(x.data(), M, K, K, a_scalar);
        CHECK(a.codes == a_scalar.codes);
        CHECK(a.sums == a_scalar.sums);
        std::vector<std::int32_t> C(M * N + 1, -7), Cs(M * N + 1, -7);
        w8a8_gemm_s32(a, packed, C.data(), N);
        w8a8_gemm_s32<scalar_arch>(a, packed, Cs.data(), N);
        CHECK(C == Cs);
        std::size_t bad = 0;
        for (std::size_t m = 0; m < M; ++m)
            for (std::size_t n = 0; n < N; ++n) {
                std::int64_t s = 0;
                for (std::size_t k = 0; k < K; ++k) s += std::int64_t(a.codes[m * a.ld + k]) * (w[n * K + k] - zw[n]);
                bad += C[m * N + n] != s;
            }
        CHECK(bad == 0);
        CHECK(C[M * N] == -7);  // nothing written past the output
    }
}

TEST_CASE("properties: weight-only int8 and int4 GEMM equal the dequantized reference on both paths, "
          COMPRESS_TEST_ARCH " build", "[properties][kernels]") {
    std::mt19937 rng(4002);
    for (int i = 0; i < 24; ++i) {
        const std::size_t M = pick(rng, 1, 8), N = pick(rng, 1, 40), K = pick(rng, 1, 260);
        const std::size_t G = i % 3 == 0 ? K : pick(rng, 1, K);
        const std::size_t ng = (K + G - 1) / G;
        INFO("M=" << M << " N=" << N << " K=" << K << " G=" << G);
        const auto x = randn(M * K, rng);
        std::vector<float> scales(N * ng);
        for (auto& s : scales) s = std::uniform_real_distribution<float>(0.001f, 0.1f)(rng);
        std::vector<float> bias = randn(N, rng);
        // int8 codes, and int4 codes in [-8, 7] packed two per byte (low nibble first)
        std::vector<std::int8_t> w8(N * K);
        std::vector<int> q4(N * K);
        const std::size_t ld4 = (K + 1) / 2;
        std::vector<std::uint8_t> w4(N * ld4, 0);
        for (std::size_t j = 0; j < N * K; ++j) {
            w8[j] = static_cast<std::int8_t>(std::uniform_int_distribution<int>(-127, 127)(rng));
            q4[j] = std::uniform_int_distribution<int>(-8, 7)(rng);
            const std::size_t n = j / K, k = j % K;
            w4[n * ld4 + k / 2] |= static_cast<std::uint8_t>((static_cast<unsigned>(q4[j]) & 0xFu) << (k % 2 ? 4 : 0));
        }
        const group_scales<float> gs{scales.data(), G, ng};
        for (int fmt = 0; fmt < 2; ++fmt) {
            INFO((fmt ? "int4" : "int8"));
            std::vector<float> Y(M * N + 1, -7.0f), Ys(M * N + 1, -7.0f);
            if (fmt == 0) {
                wo_int8_gemm(x.data(), M, K, K, w8.data(), N, K, gs, bias.data(), Y.data(), N);
                wo_int8_gemm<scalar_arch>(x.data(), M, K, K, w8.data(), N, K, gs, bias.data(), Ys.data(), N);
            } else {
                wo_int4_gemm(x.data(), M, K, K, w4.data(), N, ld4, gs, bias.data(), Y.data(), N);
                wo_int4_gemm<scalar_arch>(x.data(), M, K, K, w4.data(), N, ld4, gs, bias.data(), Ys.data(), N);
            }
            std::size_t bad = 0;
            for (std::size_t m = 0; m < M; ++m)
                for (std::size_t n = 0; n < N; ++n) {
                    double s = bias[n], mag = std::fabs(bias[n]);
                    for (std::size_t k = 0; k < K; ++k) {
                        const double code = fmt == 0 ? w8[n * K + k] : q4[n * K + k];
                        const double t = double(scales[n * ng + k / G]) * code * x[m * K + k];
                        s += t;
                        mag += std::fabs(t);
                    }
                    // float sums in another order: error bounded by K ulps of the magnitude sum
                    const double tol = 1e-6 + 4e-7 * double(K) * mag;
                    bad += !close(Y[m * N + n], s, 0.0, tol);
                    bad += !close(Ys[m * N + n], s, 0.0, tol);
                }
            CHECK(bad == 0);
            CHECK(Y[M * N] == -7.0f);
            CHECK(Ys[M * N] == -7.0f);
        }
    }
}

TEST_CASE("properties: binary and ternary XNOR-popcount dots equal the ±1 reference on both paths, "
          COMPRESS_TEST_ARCH " build", "[properties][kernels]") {
    std::mt19937 rng(4003);
    for (int i = 0; i < 30; ++i) {
        const std::size_t M = pick(rng, 1, 9), N = pick(rng, 1, 40), K = pick(rng, 1, 400);
        INFO("M=" << M << " N=" << N << " K=" << K);
        const auto x = randn(M * K, rng);
        const std::size_t wld = (K + 63) / 64 + pick(rng, 0, 2);
        std::vector<std::uint64_t> neg(N * wld, 0), nz(N * wld, 0);
        std::vector<int> wv(N * K);
        for (std::size_t n = 0; n < N; ++n)
            for (std::size_t k = 0; k < K; ++k) {
                const int v = std::uniform_int_distribution<int>(-1, 1)(rng);
                wv[n * K + k] = v;
                if (v != 0) nz[n * wld + k / 64] |= std::uint64_t(1) << (k % 64);
                if (v < 0) neg[n * wld + k / 64] |= std::uint64_t(1) << (k % 64);
            }
        std::vector<float> alpha(N, 1.0f);
        bin_activations a, as;
        binarize_activations(x.data(), M, K, K, a);
        binarize_activations<scalar_arch>(x.data(), M, K, K, as);
        CHECK(a.bits == as.bits);
        for (int ternary = 0; ternary < 2; ++ternary) {
            // binary weights: the sign plane is bit set = +1 (the complement of `negative`,
            // zeros read as +1); ternary: nonzero + negative planes
            std::vector<std::uint64_t> sign(N * wld, 0);
            for (std::size_t n = 0; n < N; ++n)
                for (std::size_t k = 0; k < K; ++k)
                    if (wv[n * K + k] >= 0) sign[n * wld + k / 64] |= std::uint64_t(1) << (k % 64);
            bin_weights w;
            w.n = N;
            w.k = K;
            w.wld = wld;
            w.bits = ternary ? neg.data() : sign.data();
            w.nonzero = ternary ? nz.data() : nullptr;
            w.alpha = alpha.data();
            w.n_alpha = N;
            std::vector<std::int32_t> D(M * N + 1, -7), Ds(M * N + 1, -7);
            bin_gemm_s32(a, w, D.data(), N);
            bin_gemm_s32<scalar_arch>(a, w, Ds.data(), N);
            CHECK(D == Ds);
            std::size_t bad = 0;
            for (std::size_t m = 0; m < M; ++m)
                for (std::size_t n = 0; n < N; ++n) {
                    int d = 0;
                    for (std::size_t k = 0; k < K; ++k) {
                        const int xs = x[m * K + k] >= 0.0f ? 1 : -1;
                        const int ws = ternary ? wv[n * K + k] : (wv[n * K + k] >= 0 ? 1 : -1);
                        d += xs * ws;
                    }
                    bad += D[m * N + n] != d;
                }
            CHECK(bad == 0);
        }
    }
}

TEST_CASE("properties: sgemm equals the double reference for random shapes and transposes, " COMPRESS_TEST_ARCH " build",
          "[properties][kernels]") {
    std::mt19937 rng(4004);
    for (int i = 0; i < 30; ++i) {
        const std::size_t M = pick(rng, 1, 70), N = pick(rng, 1, 70), K = pick(rng, 0, 90);
        const bool ta = rng() % 2, tb = rng() % 2;
        const float alpha = i % 5 == 0 ? 0.0f : std::uniform_real_distribution<float>(-2.0f, 2.0f)(rng);
        const float beta = i % 3 == 0 ? 0.0f : std::uniform_real_distribution<float>(-1.0f, 1.0f)(rng);
        INFO("M=" << M << " N=" << N << " K=" << K << " ta=" << ta << " tb=" << tb);
        const std::size_t lda = (ta ? M : K) + pick(rng, 0, 3), ldb = (tb ? K : N) + pick(rng, 0, 3);
        const std::size_t ldc = N + pick(rng, 0, 3);
        const auto A = randn((ta ? K : M) * lda + 1, rng);
        const auto B = randn((tb ? N : K) * ldb + 1, rng);
        auto C = randn(M * ldc, rng);
        auto Cs = C;
        const auto C0 = C;
        sgemm(ta, tb, M, N, K, alpha, A.data(), lda, B.data(), ldb, beta, C.data(), ldc);
        sgemm<scalar_arch>(ta, tb, M, N, K, alpha, A.data(), lda, B.data(), ldb, beta, Cs.data(), ldc);
        std::size_t bad = 0;
        for (std::size_t m = 0; m < M; ++m)
            for (std::size_t n = 0; n < N; ++n) {
                double s = 0, mag = 0;
                for (std::size_t k = 0; k < K; ++k) {
                    const double t = double(ta ? A[k * lda + m] : A[m * lda + k]) * double(tb ? B[n * ldb + k] : B[k * ldb + n]);
                    s += t;
                    mag += std::fabs(t);
                }
                const double want = double(alpha) * s + (beta == 0.0f ? 0.0 : double(beta) * C0[m * ldc + n]);
                const double tol = 1e-6 + 4e-7 * double(K + 2) * (std::fabs(alpha) * mag + std::fabs(beta * C0[m * ldc + n]));
                bad += !close(C[m * ldc + n], want, 0.0, tol);
                bad += !close(Cs[m * ldc + n], want, 0.0, tol);
            }
        CHECK(bad == 0);
    }
}

}  // namespace test_properties_kernels
