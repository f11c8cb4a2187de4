// compress::linear with quantized weights: dispatch on the scheme, the quantize-once objects,
// accuracy through the real kernels (W8A8 predictions equal the fake-quant simulation on a
// small MLP), and bad input.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>
#include <string>

#include <xtensor/xtensor.hpp>
#include <xtensor/xview.hpp>

#include <compress/kernels/linear_lowbit.hpp>

using namespace compress;

namespace {

xt::xtensor<float, 2> randn2(std::size_t r, std::size_t c, unsigned seed, float sd = 1.0f) {
    std::mt19937 g(seed);
    std::normal_distribution<float> d(0.0f, sd);
    xt::xtensor<float, 2> t = xt::xtensor<float, 2>::from_shape({r, c});
    for (auto& v : t) v = d(g);
    return t;
}
xt::xtensor<float, 1> randn1(std::size_t n, unsigned seed) {
    std::mt19937 g(seed);
    std::normal_distribution<float> d(0.0f, 0.5f);
    xt::xtensor<float, 1> t = xt::xtensor<float, 1>::from_shape({n});
    for (auto& v : t) v = d(g);
    return t;
}

/// The simulation: per-row symmetric fake quantization of activations to [-127, 127].
xt::xtensor<float, 2> fake_quant_rows(const xt::xtensor<float, 2>& x) {
    xt::xtensor<float, 2> out = x;
    for (std::size_t m = 0; m < x.shape()[0]; ++m) {
        float amax = 0;
        for (std::size_t k = 0; k < x.shape()[1]; ++k) amax = std::max(amax, std::fabs(x(m, k)));
        const float s = amax / 127.0f;
        for (std::size_t k = 0; k < x.shape()[1]; ++k) {
            const float q = s > 0 ? std::min(127.0f, std::max(-127.0f, std::nearbyint(x(m, k) / s))) : 0.0f;
            out(m, k) = q * s;
        }
    }
    return out;
}

/// y = x · wᵀ + b in double.
xt::xtensor<double, 2> matmul_ref(const xt::xtensor<float, 2>& x, const xt::xtensor<float, 2>& w,
                                  const xt::xtensor<float, 1>* b) {
    const std::size_t M = x.shape()[0], N = w.shape()[0], K = x.shape()[1];
    xt::xtensor<double, 2> y = xt::zeros<double>({M, N});
    for (std::size_t m = 0; m < M; ++m)
        for (std::size_t n = 0; n < N; ++n) {
            double s = b ? double((*b)(n)) : 0.0;
            for (std::size_t k = 0; k < K; ++k) s += double(x(m, k)) * w(n, k);
            y(m, n) = s;
        }
    return y;
}

void require_close(const xt::xtensor<float, 2>& got, const xt::xtensor<double, 2>& want, double rel, double abs_tol) {
    REQUIRE(got.shape() == want.shape());
    for (std::size_t i = 0; i < got.size(); ++i) {
        INFO("flat index " << i << ": got " << got.data()[i] << ", want " << want.data()[i]);
        REQUIRE(std::fabs(got.data()[i] - want.data()[i]) <= abs_tol + rel * std::fabs(want.data()[i]));
    }
}

xt::xtensor<float, 2> relu(xt::xtensor<float, 2> t) {
    for (auto& v : t) v = std::max(v, 0.0f);
    return t;
}

}  // namespace

TEST_CASE("linear: int8 per-channel weights run W8A8 and match the fake-quant simulation", "[linear][lowbit]") {
    const auto x = randn2(5, 67, 1);
    const auto w = randn2(19, 67, 2, 0.2f);
    const auto b = randn1(19, 3);
    const auto q = quantizer<int8, symmetric, per_channel<0>>{}.quantize(w);
    const auto y = linear(x, q, b);
    require_close(y, matmul_ref(fake_quant_rows(x), q.dequantize(), &b), 1e-5, 1e-5);
    // scalar path: the same int32 sums, the same epilogue → equal up to one fp32 rounding
    const auto ys = linear<scalar_arch>(x, q, b);
    for (std::size_t i = 0; i < y.size(); ++i) REQUIRE(ys.data()[i] == Approx(y.data()[i]).epsilon(1e-6));
    // no bias
    require_close(linear(x, q), matmul_ref(fake_quant_rows(x), q.dequantize(), nullptr), 1e-5, 1e-5);
}

TEST_CASE("linear: affine int8 / uint8 weights (zero points) through W8A8", "[linear][lowbit]") {
    const auto x = randn2(4, 40, 4);
    auto w = randn2(9, 40, 5, 0.3f);
    w += 0.2f;  // off-centre, so the zero points are not trivial
    const auto b = randn1(9, 6);
    const auto qa = quantizer<int8, affine, per_channel<0>>{}.quantize(w);
    require_close(linear(x, qa, b), matmul_ref(fake_quant_rows(x), qa.dequantize(), &b), 1e-5, 1e-5);
    const auto qu = quantizer<uint8, affine, per_tensor>{}.quantize(w);
    require_close(linear(x, qu, b), matmul_ref(fake_quant_rows(x), qu.dequantize(), &b), 1e-5, 1e-5);
    const auto qs = quantizer<uint8, symmetric, per_channel<0>>{}.quantize(w);
    require_close(linear(x, qs, b), matmul_ref(fake_quant_rows(x), qs.dequantize(), &b), 1e-5, 1e-5);
}

TEST_CASE("linear: weight-only int8 and int4 with group scales (float and fp16)", "[linear][lowbit]") {
    for (std::size_t M : {0u, 1u, 3u, 6u}) {
        INFO("batch " << M);
        const auto x = randn2(M, 100, 7);  // 100 = 3 groups of 32 + a partial group of 4
        const auto w = randn2(13, 100, 8, 0.2f);
        const auto b = randn1(13, 9);
        const auto q8 = quantizer<int8, symmetric, per_group<32>>{}.quantize(w);
        require_close(linear(x, q8, b), matmul_ref(x, q8.dequantize(), &b), 1e-5, 1e-5);
        const auto q8c = quantizer<int8, symmetric, per_channel<0>>{}.quantize(w);
        require_close(linear(x, q8c, b, weight_only), matmul_ref(x, q8c.dequantize(), &b), 1e-5, 1e-5);
        const auto q4 = quantizer<int4, symmetric, per_group<32>>{}.quantize(w);
        require_close(linear(x, q4, b), matmul_ref(x, q4.dequantize(), &b), 1e-5, 1e-5);
        const auto q4h = quantizer<int4, symmetric, per_group<32>, minmax, nearest_even, fp16>{}.quantize(w);
        require_close(linear(x, q4h, b), matmul_ref(x, q4h.dequantize(), &b), 1e-5, 1e-5);
        require_close(linear(x, q4h), matmul_ref(x, q4h.dequantize(), nullptr), 1e-5, 1e-5);
        const auto q4t = quantizer<int4, symmetric, per_tensor>{}.quantize(w);
        require_close(linear(x, q4t, b, weight_only), matmul_ref(x, q4t.dequantize(), &b), 1e-5, 1e-5);
    }
}

TEST_CASE("linear: binary and ternary weights with binarized activations", "[linear][lowbit]") {
    const auto x = randn2(6, 130, 10);
    const auto w = randn2(11, 130, 11);
    const auto b = randn1(11, 12);
    // the simulation: sign(x) (sign(0) = +1) times β = mean|x| per row
    xt::xtensor<float, 2> xb = x;
    for (std::size_t m = 0; m < 6; ++m) {
        double s = 0;
        for (std::size_t k = 0; k < 130; ++k) s += std::fabs(x(m, k));
        const float beta = static_cast<float>(s / 130.0);
        for (std::size_t k = 0; k < 130; ++k) xb(m, k) = x(m, k) >= 0 ? beta : -beta;
    }
    const auto qb = quantizer<binary, symmetric, per_channel<0>>{}.quantize(w);
    require_close(linear(x, qb, b), matmul_ref(xb, qb.dequantize(), &b), 1e-4, 1e-4);
    const auto qt = quantizer<ternary, symmetric, per_channel<0>>{}.quantize(w);
    require_close(linear(x, qt, b), matmul_ref(xb, qt.dequantize(), &b), 1e-4, 1e-4);
    const auto qbt = quantizer<binary, symmetric, per_tensor>{}.quantize(w);
    require_close(linear(x, qbt), matmul_ref(xb, qbt.dequantize(), nullptr), 1e-4, 1e-4);
    // binarize once, feed both layers
    const auto xa = binarize_activations(x);
    CHECK(xa.bytes() > 0);
    require_close(linear(xa, qb, b), matmul_ref(xb, qb.dequantize(), &b), 1e-4, 1e-4);
    require_close(linear(xa, qt), matmul_ref(xb, qt.dequantize(), nullptr), 1e-4, 1e-4);
}

TEST_CASE("linear: other schemes fall back to dequantize + dense GEMM", "[linear][lowbit]") {
    const auto x = randn2(3, 21, 13);
    const auto w = randn2(5, 21, 14, 0.3f);
    const auto q2 = quantizer<int2, symmetric, per_channel<0>>{}.quantize(w);
    require_close(linear(x, q2), matmul_ref(x, q2.dequantize(), nullptr), 1e-5, 1e-5);
    const auto q4a = quantizer<uint4, affine, per_group<8>>{}.quantize(w);
    const auto b = randn1(5, 15);
    require_close(linear(x, q4a, b), matmul_ref(x, q4a.dequantize(), &b), 1e-5, 1e-5);
}

TEST_CASE("linear: activations quantized once feed several W8A8 layers", "[linear][lowbit]") {
    const auto x = randn2(7, 50, 16);
    const auto w1 = randn2(12, 50, 17, 0.2f), w2 = randn2(30, 50, 18, 0.2f);
    const auto b1 = randn1(12, 19);
    const auto q1 = quantizer<int8, symmetric, per_channel<0>>{}.quantize(w1);
    const auto q2 = quantizer<int8, symmetric, per_tensor>{}.quantize(w2);
    const auto xa = quantize_activations(x);
    REQUIRE(xa.rows() == 7);
    REQUIRE(xa.cols() == 50);
    const auto p1 = prepack(q1);
    CHECK(p1.bytes() >= 12 * 50);
    // the same integer kernel as linear(x, q): identical results
    const auto y1 = linear(xa, p1, b1);
    const auto y1d = linear(x, q1, b1);
    REQUIRE((y1 == y1d));
    REQUIRE((linear(xa, q2) == linear(x, q2)));
    REQUIRE((linear(x, p1, b1) == y1d));
    // a calibrated scale: codes = round(x / s) clipped to ±127
    const auto xc = quantize_activations(x, 0.01f);
    CHECK(xc.scale(0) == 0.01f);
    const int want = static_cast<int>(std::max(-127.0f, std::min(127.0f, std::nearbyint(x(2, 3) / 0.01f))));
    CHECK(xc.code(2, 3) == want);
    xt::xtensor<float, 2> xf = x;
    for (auto& v : xf) v = std::min(127.0f, std::max(-127.0f, std::nearbyint(v / 0.01f))) * 0.01f;
    require_close(linear(xc, q1, b1), matmul_ref(xf, q1.dequantize(), &b1), 1e-5, 1e-5);
}

TEST_CASE("linear: W8A8 through the real kernels predicts like the fake-quant simulation (MLP)", "[linear][lowbit]") {
    // A small MLP 48 → 64 → 10 with random weights and 300 random inputs.
    const auto w1 = randn2(64, 48, 20, 0.3f), w2 = randn2(10, 64, 21, 0.3f);
    const auto b1 = randn1(64, 22), b2 = randn1(10, 23);
    const auto x = randn2(300, 48, 24);
    const auto q1 = quantizer<int8, symmetric, per_channel<0>>{}.quantize(w1);
    const auto q2 = quantizer<int8, symmetric, per_channel<0>>{}.quantize(w2);
    // real: integer kernels
    const auto logits = linear(relu(linear(x, q1, b1)), q2, b2);
    // simulation: fake-quantized activations and weights in double precision
    xt::xtensor<float, 2> h = xt::cast<float>(matmul_ref(fake_quant_rows(x), q1.dequantize(), &b1));
    const auto sim = matmul_ref(fake_quant_rows(relu(h)), q2.dequantize(), &b2);
    std::size_t same = 0, decided = 0;
    for (std::size_t m = 0; m < 300; ++m) {
        std::size_t a = 0, s = 0;
        for (std::size_t n = 1; n < 10; ++n) {
            if (logits(m, n) > logits(m, a)) a = n;
            if (sim(m, n) > sim(m, s)) s = n;
        }
        // a near-tie in the simulation could flip on the last bit of an activation code
        double second = -1e30;
        for (std::size_t n = 0; n < 10; ++n)
            if (n != s) second = std::max(second, sim(m, n));
        if (sim(m, s) - second < 1e-4) continue;
        ++decided;
        same += a == s;
    }
    CHECK(decided > 290);
    CHECK(same == decided);
}

TEST_CASE("linear (quantized): bad input throws typed errors naming what and where", "[linear][lowbit]") {
    const auto w = randn2(6, 10, 30, 0.2f);
    const auto q8 = quantizer<int8, symmetric, per_channel<0>>{}.quantize(w);
    const auto q4 = quantizer<int4, symmetric, per_group<4>>{}.quantize(w);
    const auto qb = quantizer<binary, symmetric, per_channel<0>>{}.quantize(w);
    auto x = randn2(3, 10, 31);

    // shape mismatches
    const auto x9 = randn2(3, 9, 32);
    CHECK_THROWS_AS(linear(x9, q8), shape_error);
    CHECK_THROWS_WITH(linear(x9, q8), "shape error: linear(x, quantized_tensor): input x of shape [3, 9] has 9 "
                                      "features but the weight [6, 10] expects 10");
    CHECK_THROWS_AS(linear(x9, q4), shape_error);
    CHECK_THROWS_AS(linear(x9, qb), shape_error);
    xt::xtensor<float, 3> x3 = xt::zeros<float>({2, 3, 10});
    CHECK_THROWS_WITH(linear(x3, q8), "shape error: linear(x, quantized_tensor): input x must be 2-d [batch, "
                                      "in_features], got shape [2, 3, 10]");
    // wrong bias length
    xt::xtensor<float, 1> b5 = xt::zeros<float>({5});
    CHECK_THROWS_AS(linear(x, q8, b5), shape_error);
    CHECK_THROWS_WITH(linear(x, q8, b5), "shape error: linear(x, quantized_tensor, bias): bias of shape [5] does "
                                         "not fit 6 output features (expected [6])");
    CHECK_THROWS_AS(linear(x, q4, b5), shape_error);
    CHECK_THROWS_AS(linear(x, qb, b5), shape_error);
    CHECK_THROWS_AS(linear(x, q8, b5, weight_only), shape_error);
    // quantized activations of the wrong width (scheme/shape mismatch between layers)
    const auto xa9 = quantize_activations(x9);
    CHECK_THROWS_AS(linear(xa9, q8), shape_error);
    CHECK_THROWS_WITH(linear(xa9, prepack(q8)), "shape error: linear(quantized_activations, packed_int8_weights): the "
                                                "activations have 9 features but the weight [6, 10] expects 10");
    CHECK_THROWS_AS(linear(binarize_activations(x9), qb), shape_error);
    // NaN / Inf activations
    x(1, 7) = std::numeric_limits<float>::quiet_NaN();
    CHECK_THROWS_AS(linear(x, q8), value_error);
    CHECK_THROWS_WITH(linear(x, q8), "value error: tensor 'x' has a non-finite value (NaN) at (1, 7)");
    CHECK_THROWS_WITH(linear(x, q4), "value error: tensor 'x' has a non-finite value (NaN) at (1, 7)");
    CHECK_THROWS_WITH(linear(x, qb), "value error: tensor 'x' has a non-finite value (NaN) at (1, 7)");
    CHECK_THROWS_WITH(quantize_activations(x), "value error: tensor 'x' has a non-finite value (NaN) at (1, 7)");
    x(1, 7) = 0.0f;
    x(2, 0) = -std::numeric_limits<float>::infinity();
    CHECK_THROWS_WITH(linear(x, q8, weight_only), "value error: tensor 'x' has a non-finite value (Inf) at (2, 0)");
    CHECK_THROWS_WITH(binarize_activations(x), "value error: tensor 'x' has a non-finite value (Inf) at (2, 0)");
    // a view of x is checked the same way
    CHECK_THROWS_WITH(linear(xt::view(x, xt::range(1, 3), xt::all()), q8),
                      "value error: tensor 'x' has a non-finite value (Inf) at (1, 0)");
    x(2, 0) = 0.0f;
    // NaN bias
    xt::xtensor<float, 1> b6 = xt::zeros<float>({6});
    b6(4) = std::numeric_limits<float>::quiet_NaN();
    CHECK_THROWS_WITH(linear(x, q8, b6), "value error: tensor 'bias' has a non-finite value (NaN) at (4)");
    // calibrated scale out of domain
    CHECK_THROWS_AS(quantize_activations(x, 0.0f), value_error);
    CHECK_THROWS_WITH(quantize_activations(x, std::nanf("")),
                      Catch::Matchers::StartsWith("value error: quantize_activations(x, scale): the scale must be finite and > 0"));
}
