// compress::detail::sgemm against a double-precision scalar reference: every transpose
// combination, odd shapes (1x1, primes, K past the K-block, N past the N-block), alpha/beta,
// leading dimensions larger than the rows, and beta == 0 not reading C. Built three times
// (native / AVX2 / baseline); the whole sweep also runs compress::scalar_arch in the baseline build.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstddef>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include <compress/kernels/gemm.hpp>

// The whole file in its own namespace: it is compiled in one unity TU with the other files of its
// test program (tests/CMakeLists.txt), and its helpers have the same names as theirs.
namespace test_gemm {

namespace {

struct problem {
    bool ta, tb;
    std::size_t M, N, K, lda, ldb, ldc;
    std::vector<float> A, B, C;
};

problem make(bool ta, bool tb, std::size_t M, std::size_t N, std::size_t K, std::size_t pad, unsigned seed) {
    problem p{ta, tb, M, N, K, 0, 0, 0, {}, {}, {}};
    const std::size_t arows = ta ? K : M, acols = ta ? M : K;
    const std::size_t brows = tb ? N : K, bcols = tb ? K : N;
    p.lda = acols + pad;
    p.ldb = bcols + pad;
    p.ldc = N + pad;
    std::mt19937 rng(seed);
    std::uniform_real_distribution<float> u(-1.0f, 1.0f);
    p.A.resize(arows * p.lda);
    p.B.resize(brows * p.ldb);
    p.C.resize(M * p.ldc);
    for (auto& v : p.A) v = u(rng);
    for (auto& v : p.B) v = u(rng);
    for (auto& v : p.C) v = u(rng);
    return p;
}

float at_a(const problem& p, std::size_t i, std::size_t k) { return p.ta ? p.A[k * p.lda + i] : p.A[i * p.lda + k]; }
float at_b(const problem& p, std::size_t k, std::size_t j) { return p.tb ? p.B[j * p.ldb + k] : p.B[k * p.ldb + j]; }

// Checks C_out against alpha * op(A) op(B) + beta * C_in in double precision; padding
// columns of C (j >= N) must be untouched.
void check(const problem& p, const std::vector<float>& out, float alpha, float beta) {
    std::size_t bad = 0;
    for (std::size_t i = 0; i < p.M; ++i) {
        for (std::size_t j = 0; j < p.ldc; ++j) {
            const float got = out[i * p.ldc + j];
            if (j >= p.N) {
                if (got != p.C[i * p.ldc + j]) ++bad;
                continue;
            }
            double s = 0.0, mag = 0.0;
            for (std::size_t k = 0; k < p.K; ++k) {
                const double t = static_cast<double>(at_a(p, i, k)) * at_b(p, k, j);
                s += t;
                mag += std::fabs(t);
            }
            double want = alpha * s;
            if (beta != 0.0f) want += static_cast<double>(beta) * p.C[i * p.ldc + j];
            const double tol = 1e-5 * (std::fabs(alpha) * mag + std::fabs(beta) + 1.0);
            if (!(std::fabs(got - want) <= tol)) {
                if (bad < 5) {
                    UNSCOPED_INFO("C(" << i << "," << j << ") = " << got << ", want " << want);
                }
                ++bad;
            }
        }
    }
    CHECK(bad == 0);
}

template <class Arch>
void run_case(bool ta, bool tb, std::size_t M, std::size_t N, std::size_t K, std::size_t pad, float alpha,
              float beta, unsigned seed) {
    problem p = make(ta, tb, M, N, K, pad, seed);
    std::vector<float> out = p.C;
    compress::detail::sgemm<Arch>(ta, tb, M, N, K, alpha, p.A.data(), p.lda, p.B.data(), p.ldb, beta, out.data(),
                                  p.ldc);
    INFO("arch " << compress::detail::arch_name<Arch>() << " ta=" << ta << " tb=" << tb << " M=" << M
                 << " N=" << N << " K=" << K << " pad=" << pad << " alpha=" << alpha << " beta=" << beta);
    check(p, out, alpha, beta);
}

struct shape {
    std::size_t M, N, K;
};

template <class Arch>
void run_all() {
    const shape shapes[] = {{1, 1, 1},   {2, 3, 1},    {1, 17, 13},  {7, 13, 5},   {13, 7, 31},
                            {17, 33, 300}, {37, 70, 19}, {31, 1, 257}, {130, 35, 9}, {3, 4100, 3},
                            {29, 64, 16}, {64, 48, 64}, {1, 70, 300}, {1, 130, 40}};
    unsigned seed = 1;
    for (const auto& s : shapes) {
        for (int t = 0; t < 4; ++t) {
            const bool ta = (t & 1) != 0, tb = (t & 2) != 0;
            run_case<Arch>(ta, tb, s.M, s.N, s.K, 0, 1.0f, 0.0f, seed++);
            run_case<Arch>(ta, tb, s.M, s.N, s.K, 3, -0.5f, 1.0f, seed++);
            run_case<Arch>(ta, tb, s.M, s.N, s.K, 1, 2.0f, 0.25f, seed++);
        }
    }
}

template <class Arch>
void beta_zero_ignores_nan() {
    for (int t = 0; t < 4; ++t) {
        const bool ta = (t & 1) != 0, tb = (t & 2) != 0;
        for (std::size_t K : {std::size_t{0}, std::size_t{5}, std::size_t{300}}) {
            problem p = make(ta, tb, 9, 19, K, 0, 7u + static_cast<unsigned>(K));
            std::vector<float> out(p.C.size(), std::numeric_limits<float>::quiet_NaN());
            compress::detail::sgemm<Arch>(ta, tb, p.M, p.N, K, 1.0f, p.A.data(), p.lda, p.B.data(), p.ldb, 0.0f,
                                          out.data(), p.ldc);
            std::size_t nans = 0;
            for (float v : out) nans += std::isnan(v) ? 1 : 0;
            INFO("ta=" << ta << " tb=" << tb << " K=" << K);
            CHECK(nans == 0);
            p.C.assign(p.C.size(), 0.0f);
            check(p, out, 1.0f, 0.0f);
        }
    }
}

}  // namespace

TEST_CASE("sgemm matches the scalar reference, default arch (" COMPRESS_TEST_ARCH ")", "[gemm]") {
    run_all<xsimd::default_arch>();
}

#if COMPRESS_TEST_SCALAR_SWEEP
// The whole sweep on scalar_arch is the same code in every build: it runs in the baseline build
// (and in the sanitizer build, which has only the native one). See tests/CMakeLists.txt.
TEST_CASE("sgemm matches the scalar reference, scalar_arch", "[gemm]") { run_all<compress::scalar_arch>(); }
#endif

TEST_CASE("sgemm with beta == 0 never reads C", "[gemm]") {
    beta_zero_ignores_nan<xsimd::default_arch>();
    beta_zero_ignores_nan<compress::scalar_arch>();
}

TEST_CASE("sgemm with K == 0 or alpha == 0 scales C by beta", "[gemm]") {
    std::vector<float> A(6, 1.0f), B(6, 1.0f), C = {1, 2, 3, 4};
    compress::detail::sgemm(false, false, 2, 2, 0, 1.0f, A.data(), 1, B.data(), 2, 0.5f, C.data(), 2);
    CHECK(C == std::vector<float>{0.5f, 1.0f, 1.5f, 2.0f});
    compress::detail::sgemm(false, false, 2, 2, 3, 0.0f, A.data(), 3, B.data(), 2, 2.0f, C.data(), 2);
    CHECK(C == std::vector<float>{1.0f, 2.0f, 3.0f, 4.0f});
    // M == 0 / N == 0 touch nothing.
    compress::detail::sgemm(false, false, 0, 2, 3, 1.0f, A.data(), 3, B.data(), 2, 0.0f, C.data(), 2);
    compress::detail::sgemm(false, false, 2, 0, 3, 1.0f, A.data(), 3, B.data(), 2, 0.0f, C.data(), 2);
    CHECK(C == std::vector<float>{1.0f, 2.0f, 3.0f, 4.0f});
}

TEST_CASE("sgemm hand-computed 2x2", "[gemm]") {
    // [1 2; 3 4] · [5 6; 7 8] = [19 22; 43 50]
    std::vector<float> A = {1, 2, 3, 4}, B = {5, 6, 7, 8}, C(4, 0.0f);
    compress::detail::sgemm(false, false, 2, 2, 2, 1.0f, A.data(), 2, B.data(), 2, 0.0f, C.data(), 2);
    CHECK(C == std::vector<float>{19, 22, 43, 50});
    // Aᵀ · Bᵀ = (B·A)ᵀ: B·A = [23 34; 31 46] -> transposed [23 31; 34 46]
    compress::detail::sgemm<compress::scalar_arch>(true, true, 2, 2, 2, 1.0f, A.data(), 2, B.data(), 2, 0.0f,
                                                   C.data(), 2);
    CHECK(C == std::vector<float>{23, 31, 34, 46});
}

}  // namespace test_gemm
