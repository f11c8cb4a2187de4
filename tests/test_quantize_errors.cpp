// Bad input to the quantizer, each fed and checked for the error type and message:
// NaN/Inf, constant and all-zero tensors, empty tensors, axis out of range, group size not
// dividing, calibration mismatches, bad observer parameters, STE misuse, error_report and
// bias_correction shape errors.
#include <catch2/catch.hpp>

#include <cmath>
#include <limits>

#include <compress/quantize.hpp>

using namespace compress;
using Catch::Matchers::Contains;

namespace {
xt::xtensor<float, 2> ramp(std::size_t r, std::size_t c) {
    xt::xtensor<float, 2> t = xt::xtensor<float, 2>::from_shape({r, c});
    for (std::size_t i = 0; i < t.size(); ++i) t.data()[i] = 0.01f * static_cast<float>(i) - 0.3f;
    return t;
}
}  // namespace

TEST_CASE("NaN / Inf throw value_error naming the position, on every path", "[quantize][errors]") {
    auto w = ramp(4, 40);
    w(2, 33) = std::numeric_limits<float>::quiet_NaN();
    const char* nan_msg = "value error: tensor 'fc1.weight' has a non-finite value (NaN) at (2, 33)";
    CHECK_THROWS_AS((quantizer<int8, symmetric, per_channel<0>>{}.quantize(w, "fc1.weight")), value_error);
    CHECK_THROWS_WITH((quantizer<int8, symmetric, per_channel<0>>{}.quantize(w, "fc1.weight")), nan_msg);
    CHECK_THROWS_WITH((quantizer<int4, affine, per_group<32>>{}.quantize(w, "fc1.weight")), nan_msg);
    CHECK_THROWS_WITH((quantizer<int8, affine, per_tensor, percentile>{}.quantize(w, "fc1.weight")), nan_msg);
    CHECK_THROWS_WITH((quantizer<binary, symmetric, per_channel<0>>{}.quantize(w, "fc1.weight")), nan_msg);
    CHECK_THROWS_WITH((quantizer<fp8_e4m3>{}.quantize(w, "fc1.weight")), nan_msg);
    quantizer<int8, symmetric, per_tensor> act;
    CHECK_THROWS_WITH(act.observe(w, "fc1.weight"), nan_msg);
    CHECK_FALSE(act.calibrated());
    act.observe(ramp(4, 40));
    CHECK_THROWS_WITH(act.quantize(w, "fc1.weight"), nan_msg);
    w(2, 33) = 0.0f;
    w(0, 1) = -std::numeric_limits<float>::infinity();
    CHECK_THROWS_WITH((quantizer<int8, symmetric, per_tensor>{}.quantize(w)),
                      "value error: tensor has a non-finite value (Inf) at (0, 1)");
    CHECK_THROWS_WITH((quantizer<int8, symmetric, per_tensor, minmax, stochastic>{}.fake_quantize(w)),
                      "value error: tensor has a non-finite value (Inf) at (0, 1)");
    minmax standalone;
    CHECK_THROWS_AS(standalone.observe(w), value_error);
}

TEST_CASE("all-zero and constant tensors: no division by zero, documented scale", "[quantize][errors]") {
    const xt::xtensor<float, 2> z = xt::zeros<float>({3, 10});
    // integer formats: scale = eps = 2^-23 (PyTorch), codes at the zero point, dequantized 0
    const auto qs = quantizer<int8, symmetric, per_channel<0>>{}.quantize(z);
    for (std::size_t s = 0; s < 3; ++s) CHECK(qs.scale(s) == std::ldexp(1.0f, -23));
    const auto qa = quantizer<uint8, affine, per_tensor>{}.quantize(z);
    CHECK(qa.scale(0) == std::ldexp(1.0f, -23));
    CHECK(qa.zero_point(0) == 0);
    const auto qa8 = quantizer<int8, affine, per_tensor>{}.quantize(z);
    CHECK(qa8.zero_point(0) == -128);
    CHECK((qa8.dequantize() == z));
    CHECK((qs.dequantize() == z));
    // binary / ternary: alpha = 0; pow2 and fp8: scale eps; all dequantize to exactly 0
    CHECK((quantizer<binary, symmetric, per_channel<0>>{}.quantize(z).dequantize() == z));
    CHECK((quantizer<ternary, symmetric, per_channel<0>>{}.quantize(z).dequantize() == z));
    CHECK((quantizer<pow2<4>>{}.quantize(z).dequantize() == z));
    CHECK((quantizer<fp8_e4m3>{}.quantize(z).dequantize() == z));
    CHECK((quantizer<int4, symmetric, per_tensor, mse_search>{}.quantize(z).dequantize() == z));
    CHECK((quantizer<int8, symmetric, per_tensor, histogram_kl>{}.quantize(z).dequantize() == z));
    CHECK((quantizer<int8, affine, per_tensor, percentile>{}.quantize(z).dequantize() == z));
    // a constant c: symmetric scale c / 127.5, the code clamps to 127 (error c / 255)
    xt::xtensor<float, 2> c = xt::xtensor<float, 2>::from_shape({2, 5});
    c.fill(0.625f);
    const auto qc = quantizer<int8, symmetric, per_tensor>{}.quantize(c);
    CHECK(qc.scale(0) == 0.625f / 127.5f);
    CHECK(qc.code(1, 4) == 127);
    const auto qca = quantizer<uint8, affine, per_tensor>{}.quantize(c);
    CHECK(qca.scale(0) == 0.625f / 255.0f);
    CHECK(qca.code(0, 0) == 255);
    CHECK(qca.value(0, 0) == Approx(0.625f));
    c.fill(-2.0f);
    const auto qt = quantizer<ternary>{}.quantize(c);
    CHECK(qt.scale(0) == 2.0f);
    CHECK(qt.value(0, 0) == -2.0f);
}

TEST_CASE("empty tensors quantize to empty codes", "[quantize][errors]") {
    const xt::xtensor<float, 2> e0 = xt::zeros<float>({0, 5});
    const auto q0 = quantizer<int8, symmetric, per_tensor>{}.quantize(e0);
    CHECK(q0.size() == 0);
    CHECK(q0.code_bytes() == 0);
    CHECK(q0.num_scales() == 1);
    CHECK(q0.scale(0) == 1.0f);  // nothing observed: scale 1 (PyTorch's default)
    CHECK(q0.bytes() == 4);
    CHECK(q0.dequantize().shape()[0] == 0);
    const xt::xtensor<float, 2> e1 = xt::zeros<float>({3, 0});
    const auto q1 = quantizer<int4, affine, per_channel<0>>{}.quantize(e1);
    CHECK(q1.num_scales() == 3);
    CHECK(q1.code_bytes() == 0);
    CHECK(quantizer<int4, symmetric, per_group<32>>{}.quantize(e1).num_scales() == 0);
    CHECK(quantizer<binary, symmetric, per_channel<0>>{}.quantize(e1).scale(2) == 0.0f);
    const xt::xtensor<float, 1> e2 = xt::zeros<float>({0});
    CHECK(quantizer<int8, symmetric, per_tensor, histogram_kl>{}.quantize(e2).size() == 0);
    CHECK(quantizer<int8, symmetric, per_tensor, mse_search>{}.quantize(e2).size() == 0);
    CHECK(quantizer<int8, symmetric, per_tensor, percentile>{}.quantize(e2).size() == 0);
}

TEST_CASE("axis out of range and group size not dividing throw shape_error", "[quantize][errors]") {
    const auto w = ramp(4, 6);
    CHECK_THROWS_AS((quantizer<int8, symmetric, per_channel<2>>{}.quantize(w)), shape_error);
    CHECK_THROWS_WITH((quantizer<int8, symmetric, per_channel<2>>{}.quantize(w)),
                      "shape error: per_channel<2>: axis out of range for a tensor of shape [4, 6]");
    quantizer<int8, symmetric, per_channel<5>> act;
    CHECK_THROWS_AS(act.observe(w), shape_error);
    using strict = quantizer<int4, symmetric, per_group<4, partial_group::reject>>;
    CHECK_THROWS_AS(strict{}.quantize(w), shape_error);
    CHECK_THROWS_WITH(strict{}.quantize(w), "shape error: per_group<4>: the row length 6 of a tensor of shape [4, 6] "
                                            "is not a multiple of the group size (partial groups rejected)");
    CHECK_NOTHROW(strict{}.quantize(ramp(4, 8)));
    // the default handles a partial last group
    const auto q = quantizer<int4, symmetric, per_group<4>>{}.quantize(w);
    CHECK(q.groups_per_row() == 2);
}

TEST_CASE("calibrated blocks must match later tensors", "[quantize][errors]") {
    quantizer<int8, symmetric, per_channel<1>> act;
    act.observe(ramp(4, 6));
    act.observe(ramp(9, 6));  // another batch size: same channels
    CHECK_THROWS_AS(act.observe(ramp(4, 7)), shape_error);
    CHECK_THROWS_WITH(act.observe(ramp(4, 7), "relu1"),
                      "shape error: quantizer::observe: tensor 'relu1' of shape [4, 7] has 7 per_channel blocks, but 6 were calibrated");
    CHECK_THROWS_WITH(act.quantize(ramp(4, 7)), Contains("has 7 per_channel blocks, but 6 were calibrated"));
    act.freeze();
    CHECK_NOTHROW(act.observe(ramp(4, 7)));  // frozen: ignored
    act.reset();
    CHECK_FALSE(act.calibrated());
}

TEST_CASE("observer parameters are checked", "[quantize][errors]") {
    CHECK_THROWS_AS(moving_average_minmax(0.0f), value_error);
    CHECK_THROWS_WITH(moving_average_minmax(1.5f), Contains("averaging constant must be in (0, 1]"));
    CHECK_THROWS_WITH(percentile(0.0), Contains("percentile: p must be in (0, 100]"));
    CHECK_THROWS_WITH(percentile(100.5), Contains("percentile: p must be in (0, 100]"));
    CHECK_THROWS_WITH(mse_search(0), Contains("mse_search: steps must be >= 1"));
    CHECK_THROWS_WITH(mse_search(10, 0.0f), Contains("mse_search: min_ratio must be in (0, 1]"));
    CHECK_THROWS_AS(percentile(std::nan("")), value_error);
}

TEST_CASE("straight-through estimator misuse", "[quantize][errors]") {
    quantizer<int8, symmetric, per_channel<0>> q;
    const auto w = ramp(3, 4);
    CHECK_THROWS_AS(q.ste_mask(w), value_error);
    CHECK_THROWS_WITH(q.ste_mask(w), Contains("call fake_quantize first"));
    q.fake_quantize(w);
    CHECK_THROWS_AS(q.ste_mask(ramp(5, 4)), shape_error);
    CHECK_THROWS_WITH(q.ste_gradient(w, ramp(3, 5)),
                      "shape error: quantizer::ste_gradient: gradient of shape [3, 5] does not match the weight of shape [3, 4]");
}

TEST_CASE("error_report and bias_correction reject mismatched shapes", "[quantize][errors]") {
    const auto w = ramp(3, 4);
    const auto q = quantizer<int8>{}.quantize(w);
    CHECK_THROWS_AS(error_report(ramp(3, 5), q), shape_error);
    CHECK_THROWS_WITH(error_report(ramp(4, 4), ramp(3, 4)),
                      "shape error: error_report: w of shape [4, 4] and its quantization of shape [3, 4] differ");
    const xt::xtensor<float, 1> b = xt::zeros<float>({3});
    CHECK_THROWS_WITH(bias_correction(w, ramp(3, 5), ramp(2, 4), b), Contains("w of shape [3, 4] and w_hat of shape [3, 5] differ"));
    CHECK_THROWS_WITH(bias_correction(w, q, ramp(2, 5), b), Contains("activations of shape [2, 5] do not fit"));
    CHECK_THROWS_WITH(bias_correction(w, q, ramp(2, 4), xt::xtensor<float, 1>(xt::zeros<float>({4}))),
                      Contains("bias of shape [4] does not fit 3 outputs"));
    CHECK_THROWS_WITH(bias_correction(w, q, ramp(0, 4), b), Contains("empty batch"));
    xt::xtensor<float, 1> w1 = xt::zeros<float>({3});
    CHECK_THROWS_AS(bias_correction(w1, w1, ramp(2, 4), b), shape_error);
    auto bad = ramp(2, 4);
    bad(1, 2) = std::numeric_limits<float>::infinity();
    CHECK_THROWS_WITH(bias_correction(w, q, bad, b), "value error: tensor 'x' has a non-finite value (Inf) at (1, 2)");
}
