// Property tests of the sparse formats and compress::linear over random shapes, masks and
// seeds (issue 10): sparse/dense round trips are exact for csr, bsr and n_of_m_matrix; linear
// with every representation equals an independent double reference (dense, sparse: to float
// rounding; W8A8: within the activation quantization bound |Σ (x − x̂)·w| ≤ (s_x / 2)·Σ|w|);
// the default arch of this build and compress::scalar_arch agree (bit for bit for W8A8's
// integer sums; binary to float rounding: its activation scale is a float mean).
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include <compress/linear.hpp>
#include <compress/prune.hpp>
#include <compress/quantize.hpp>
#include <compress/sparse.hpp>

using namespace compress;

namespace {

xt::xtensor<float, 2> randn(std::size_t r, std::size_t c, std::mt19937& rng) {
    std::normal_distribution<float> nd(0.0f, 1.0f);
    auto t = xt::xtensor<float, 2>::from_shape({r, c});
    for (auto& v : t) v = nd(rng);
    return t;
}

std::size_t pick(std::mt19937& rng, std::size_t lo, std::size_t hi) {
    return std::uniform_int_distribution<std::size_t>(lo, hi)(rng);
}

/// y = x · wᵀ + b in double, and Σ|x·w| per output (for a rounding tolerance).
void reference(const xt::xtensor<float, 2>& x, const xt::xtensor<float, 2>& w, const xt::xtensor<float, 1>& b,
               std::vector<double>& y, std::vector<double>& mag) {
    const std::size_t M = x.shape()[0], N = w.shape()[0], K = w.shape()[1];
    y.assign(M * N, 0.0);
    mag.assign(M * N, 0.0);
    for (std::size_t m = 0; m < M; ++m)
        for (std::size_t n = 0; n < N; ++n) {
            double s = b.size() ? b(n) : 0.0, a = std::fabs(s);
            for (std::size_t k = 0; k < K; ++k) {
                const double t = double(x(m, k)) * double(w(n, k));
                s += t;
                a += std::fabs(t);
            }
            y[m * N + n] = s;
            mag[m * N + n] = a;
        }
}

std::size_t count_far(const xt::xtensor<float, 2>& y, const std::vector<double>& want, const std::vector<double>& mag,
                      std::size_t K) {
    std::size_t bad = 0;
    for (std::size_t i = 0; i < want.size(); ++i) {
        const double tol = 1e-6 + 4e-7 * double(K + 1) * mag[i];
        bad += !(std::fabs(double(y.data()[i]) - want[i]) <= tol);
    }
    return bad;
}

}  // namespace

TEST_CASE("properties: csr, bsr and n_of_m round-trip the masked dense weights exactly", "[properties][sparse]") {
    std::mt19937 rng(5001);
    for (int i = 0; i < 25; ++i) {
        const std::size_t R = 4 * pick(rng, 1, 6), C = 4 * pick(rng, 1, 12);
        auto w = randn(R, C, rng);
        const double a = std::uniform_real_distribution<double>(0.0, 1.0)(rng);
        INFO("R=" << R << " C=" << C << " amount " << a);
        // unstructured → csr
        auto wu = w;
        const auto mu = compress::prune<magnitude>(wu, a);
        const auto c = csr<float>::from_dense(w, mu);
        CHECK(c.nnz() == mu.kept());
        CHECK((c.to_dense() == wu));
        CHECK((csr<float>::from_dense(wu).to_dense() == wu));
        // 4x4 blocks → bsr<4,4>
        auto wb = w;
        const auto mb = compress::prune<magnitude, blocks<4, 4>>(wb, a);
        CHECK((bsr<float, 4, 4>::from_dense(w, mb).to_dense() == wb));
        CHECK((bsr<float, 2, 4>::from_dense(wb).to_dense() == wb));
        // 2:4 → n_of_m_matrix<2,4>
        auto wn = w;
        const auto mn = compress::prune<magnitude, n_of_m<2, 4>>(wn);
        const auto nm = n_of_m_matrix<float, 2, 4>::from_dense(w, mn);
        CHECK((nm.to_dense() == wn));
        CHECK((n_of_m_matrix<float, 2, 4>::from_dense(wn).to_dense() == wn));
    }
}

TEST_CASE("properties: linear with dense and sparse weights equals the double reference, both archs",
          "[properties][linear]") {
    std::mt19937 rng(5002);
    for (int i = 0; i < 20; ++i) {
        const std::size_t M = pick(rng, 1, 9), N = 4 * pick(rng, 1, 8), K = 4 * pick(rng, 1, 20);
        INFO("M=" << M << " N=" << N << " K=" << K);
        const auto x = randn(M, K, rng);
        auto w = randn(N, K, rng);
        xt::xtensor<float, 1> b = xt::xtensor<float, 1>::from_shape({N});
        for (auto& v : b) v = std::normal_distribution<float>(0.0f, 1.0f)(rng);
        compress::prune<magnitude, n_of_m<2, 4>>(w);  // a weight every format stores exactly
        std::vector<double> want, mag;
        reference(x, w, b, want, mag);
        CHECK(count_far(linear(x, w, b), want, mag, K) == 0);
        CHECK(count_far(linear<scalar_arch>(x, w, b), want, mag, K) == 0);
        const auto c = csr<float>::from_dense(w);
        CHECK(count_far(linear(x, c, b), want, mag, K) == 0);
        CHECK(count_far(linear<scalar_arch>(x, c, b), want, mag, K) == 0);
        const auto bs = bsr<float, 4, 4>::from_dense(w);
        CHECK(count_far(linear(x, bs, b), want, mag, K) == 0);
        CHECK(count_far(linear<scalar_arch>(x, bs, b), want, mag, K) == 0);
        const auto nm = n_of_m_matrix<float, 2, 4>::from_dense(w);
        CHECK(count_far(linear(x, nm, b), want, mag, K) == 0);
        CHECK(count_far(linear<scalar_arch>(x, nm, b), want, mag, K) == 0);
    }
}

TEST_CASE("properties: linear with quantized weights: W8A8 within the activation-rounding bound, weight-only and "
          "binary against the dequantized reference, both archs",
          "[properties][linear][quantize]") {
    std::mt19937 rng(5003);
    for (int i = 0; i < 16; ++i) {
        const std::size_t M = pick(rng, 1, 7), N = pick(rng, 1, 40), K = pick(rng, 1, 150);
        INFO("M=" << M << " N=" << N << " K=" << K);
        const auto x = randn(M, K, rng);
        const auto w = randn(N, K, rng);
        const xt::xtensor<float, 1> nob;
        // W8A8: y = x̂·Ŵᵀ where x̂ is x rounded to the per-row grid s_x = max|x| / 127
        const auto q8 = quantizer<int8, symmetric, per_channel<0>>{}.quantize(w);
        const xt::xtensor<float, 2> w8 = q8.dequantize();
        std::vector<double> want, mag;
        reference(x, w8, nob, want, mag);
        const auto y8 = linear(x, q8);
        CHECK((y8 == linear<scalar_arch>(x, q8)));  // identical int32 sums and epilogue on every path
        std::size_t bad = 0;
        for (std::size_t m = 0; m < M; ++m) {
            double amax = 0.0;
            for (std::size_t k = 0; k < K; ++k) amax = std::max(amax, std::fabs(double(x(m, k))));
            const double sx = amax / 127.0;
            for (std::size_t n = 0; n < N; ++n) {
                double wabs = 0.0;
                for (std::size_t k = 0; k < K; ++k) wabs += std::fabs(double(w8(n, k)));
                const double tol = 0.5 * sx * wabs * (1.0 + 1e-5) + 1e-5 * mag[m * N + n] + 1e-6;
                bad += !(std::fabs(double(y8(m, n)) - want[m * N + n]) <= tol);
            }
        }
        CHECK(bad == 0);
        // weight-only int8 and int4-g32: fp32 activations, so the dequantized reference to rounding
        CHECK(count_far(linear(x, q8, weight_only), want, mag, K) == 0);
        CHECK(count_far(linear<scalar_arch>(x, q8, weight_only), want, mag, K) == 0);
        const auto q4 = quantizer<int4, symmetric, per_group<32>, minmax, nearest_even, fp16>{}.quantize(w);
        reference(x, q4.dequantize(), nob, want, mag);
        CHECK(count_far(linear(x, q4), want, mag, K) == 0);
        CHECK(count_far(linear<scalar_arch>(x, q4), want, mag, K) == 0);
        // binary: y = β·α·Σ sign(x)·sign(w), β = mean|x| of the row
        const auto qb = quantizer<binary, symmetric, per_channel<0>>{}.quantize(w);
        const xt::xtensor<float, 2> wb = qb.dequantize();
        // the popcounts are exact on both paths; β (a float mean of |x|) is summed in another
        // order by the vector path, so the two paths agree to float rounding, not bit for bit
        const xt::xtensor<float, 2> yb_default = linear(x, qb);
        const xt::xtensor<float, 2> yb_scalar = linear<scalar_arch>(x, qb);
        for (const auto* yb : {&yb_default, &yb_scalar}) {
            bad = 0;
            for (std::size_t m = 0; m < M; ++m) {
                double beta = 0.0;
                for (std::size_t k = 0; k < K; ++k) beta += std::fabs(double(x(m, k)));
                beta /= double(K);
                for (std::size_t n = 0; n < N; ++n) {
                    double s = 0.0;
                    for (std::size_t k = 0; k < K; ++k) s += (x(m, k) >= 0.0f ? 1.0 : -1.0) * double(wb(n, k));
                    bad += !(std::fabs(double((*yb)(m, n)) - beta * s) <= 1e-5 * beta * std::fabs(double(wb(n, 0))) * double(K) + 1e-6);
                }
            }
            CHECK(bad == 0);
        }
    }
}
