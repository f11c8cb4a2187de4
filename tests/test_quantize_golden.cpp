// PyTorch 1.13 compatibility, bit for bit: scales, zero points, integer codes and
// dequantized values of MinMaxObserver / PerChannelMinMaxObserver + quantize_per_tensor /
// quantize_per_channel (qint8, quint8; symmetric, affine), moving-average observers over
// several batches, fake_quantize and its straight-through gradient, fp16/bf16 casts.
// Goldens: tests/golden/golden_quantize.py.
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include <xtensor/xadapt.hpp>

#include <compress/quantize.hpp>

#include "golden_reader.hpp"

using namespace compress;

namespace {

const std::string dir = std::string(COMPRESS_GOLDEN_DIR) + "/quantize/";

template <std::size_t N>
xt::xtensor<float, N> make_tensor(const std::vector<std::size_t>& shape, const std::vector<float>& v) {
    std::array<std::size_t, N> s{};
    for (std::size_t d = 0; d < N; ++d) s[d] = shape.at(d);
    xt::xtensor<float, N> t = xt::xtensor<float, N>::from_shape(s);
    REQUIRE(t.size() == v.size());
    std::copy(v.begin(), v.end(), t.begin());
    return t;
}

template <class F, class M, class G, std::size_t N>
void check_minmax(const golden::record& r) {
    const auto x = make_tensor<N>(r.shape(), r.floats("input"));
    const auto scale = r.floats("scale");
    const auto zp = r.ints("zero_point");
    const auto codes = r.ints("codes");
    const auto deq = r.floats("dequant");
    // one-shot (weights) and calibrated (observe, then quantize) give the same result
    quantizer<F, M, G> one_shot;
    quantizer<F, M, G> calibrated;
    calibrated.observe(x);
    for (const auto* qz : {&one_shot, &calibrated}) {
        const auto q = qz->quantize(x);
        REQUIRE(q.num_scales() == scale.size());
        for (std::size_t s = 0; s < scale.size(); ++s) {
            CHECK(golden::bits(q.scale(s)) == golden::bits(scale[s]));
            CHECK(q.zero_point(s) == zp[s]);
        }
        std::size_t code_mismatch = 0, deq_mismatch = 0;
        for (std::size_t i = 0; i < q.size(); ++i) {
            const std::size_t row = i / q.cols(), col = i % q.cols();
            code_mismatch += q.code(row, col) != codes[i];
            deq_mismatch += golden::bits(q.value(row, col)) != golden::bits(deq[i]);
        }
        CHECK(code_mismatch == 0);
        CHECK(deq_mismatch == 0);
        const auto d = q.dequantize();
        std::size_t d_mismatch = 0;
        for (std::size_t i = 0; i < d.size(); ++i) d_mismatch += golden::bits(d.data()[i]) != golden::bits(deq[i]);
        CHECK(d_mismatch == 0);
    }
}

template <class F, class M>
void dispatch_minmax(const golden::record& r, std::size_t rank, long axis) {
    if (rank == 1) {
        REQUIRE(axis == -1);
        check_minmax<F, M, per_tensor, 1>(r);
    } else if (rank == 2) {
        if (axis == -1) check_minmax<F, M, per_tensor, 2>(r);
        else if (axis == 0) check_minmax<F, M, per_channel<0>, 2>(r);
        else check_minmax<F, M, per_channel<1>, 2>(r);
    } else {
        REQUIRE(rank == 4);
        if (axis == -1) check_minmax<F, M, per_tensor, 4>(r);
        else if (axis == 0) check_minmax<F, M, per_channel<0>, 4>(r);
        else check_minmax<F, M, per_channel<1>, 4>(r);
    }
}

template <class F, class M, class G>
void check_moving_average(const golden::record& r) {
    const float c = r.floats("constant").at(0);
    quantizer<F, M, G, moving_average_minmax> q{moving_average_minmax{c}};
    const long batches = r.integer("batches");
    for (long b = 0; b < batches; ++b) q.observe(make_tensor<2>(r.shape(), r.floats("input" + std::to_string(b))));
    const auto params = q.calibrated_params();
    const auto scale = r.floats("scale");
    const auto zp = r.ints("zero_point");
    REQUIRE(params.size() == scale.size());
    for (std::size_t s = 0; s < scale.size(); ++s) {
        CHECK(golden::bits(params[s].scale) == golden::bits(scale[s]));
        CHECK(params[s].zero_point == zp[s]);
    }
}

template <class F, class M, class G>
void check_fake_quantize(const golden::record& r) {
    const auto calib = make_tensor<2>(r.shape(), r.floats("calib"));
    const auto x = make_tensor<2>(r.shape(), r.floats("input"));
    quantizer<F, M, G> q;
    q.observe(calib);
    q.freeze();
    const auto params = q.calibrated_params();
    const auto scale = r.floats("scale");
    for (std::size_t s = 0; s < scale.size(); ++s) CHECK(golden::bits(params[s].scale) == golden::bits(scale[s]));
    const auto y = q.fake_quantize(x);
    const auto g = q.ste_gradient(x, xt::ones_like(x));
    const auto out = r.floats("output");
    const auto grad = r.floats("grad");
    std::size_t ym = 0, gm = 0, clamped = 0;
    for (std::size_t i = 0; i < x.size(); ++i) {
        ym += golden::bits(y.data()[i]) != golden::bits(out[i]);
        gm += golden::bits(g.data()[i]) != golden::bits(grad[i]);
        clamped += grad[i] == 0.0f;
    }
    CHECK(ym == 0);
    CHECK(gm == 0);
    CHECK(clamped > 0);  // the golden input is wider than the calibration: some values are clamped
}

}  // namespace

TEST_CASE("PyTorch MinMaxObserver / PerChannelMinMaxObserver + quantize_per_tensor / _per_channel", "[quantize][golden]") {
    const auto records = golden::read(dir + "torch_minmax.txt");
    REQUIRE(records.size() >= 150);
    for (const auto& r : records) {
        const std::string dt = r.str("dtype"), sc = r.str("scheme");
        const long axis = r.integer("axis");
        const std::size_t rank = r.shape().size();
        INFO("case " << r.str("case") << " " << dt << " " << sc << " axis " << axis);
        if (dt == "qint8" && sc == "symmetric") dispatch_minmax<int8, symmetric>(r, rank, axis);
        else if (dt == "qint8") dispatch_minmax<int8, affine>(r, rank, axis);
        else if (sc == "symmetric") dispatch_minmax<uint8, symmetric>(r, rank, axis);
        else dispatch_minmax<uint8, affine>(r, rank, axis);
    }
}

TEST_CASE("PyTorch moving-average observers over batches", "[quantize][golden]") {
    const auto records = golden::read(dir + "torch_moving_average.txt");
    REQUIRE(records.size() == 24);
    for (const auto& r : records) {
        const std::string dt = r.str("dtype"), sc = r.str("scheme");
        const long axis = r.integer("axis");
        INFO(r.str("case") << " " << dt << " " << sc << " axis " << axis);
        auto run = [&](auto f, auto m) {
            using F = decltype(f);
            using M = decltype(m);
            if (axis == -1) check_moving_average<F, M, per_tensor>(r);
            else if (axis == 0) check_moving_average<F, M, per_channel<0>>(r);
            else check_moving_average<F, M, per_channel<1>>(r);
        };
        if (dt == "qint8" && sc == "symmetric") run(int8{}, symmetric{});
        else if (dt == "qint8") run(int8{}, affine{});
        else if (sc == "symmetric") run(uint8{}, symmetric{});
        else run(uint8{}, affine{});
    }
}

TEST_CASE("PyTorch fake_quantize forward and straight-through gradient", "[quantize][golden]") {
    const auto records = golden::read(dir + "torch_fake_quantize.txt");
    REQUIRE(records.size() == 8);
    for (const auto& r : records) {
        const std::string dt = r.str("dtype"), sc = r.str("scheme");
        const long axis = r.integer("axis");
        INFO(dt << " " << sc << " axis " << axis);
        auto run = [&](auto f, auto m) {
            using F = decltype(f);
            using M = decltype(m);
            if (axis == -1) check_fake_quantize<F, M, per_tensor>(r);
            else check_fake_quantize<F, M, per_channel<0>>(r);
        };
        if (dt == "qint8" && sc == "symmetric") run(int8{}, symmetric{});
        else if (dt == "qint8") run(int8{}, affine{});
        else if (sc == "symmetric") run(uint8{}, symmetric{});
        else run(uint8{}, affine{});
    }
}

TEST_CASE("PyTorch .half() and .bfloat16() casts", "[quantize][golden]") {
    const auto records = golden::read(dir + "torch_half.txt");
    REQUIRE(records.size() == 1);
    const auto x = records[0].floats("input");
    const auto h = records[0].floats("fp16");
    const auto b = records[0].floats("bf16");
    REQUIRE(x.size() > 20000);
    std::size_t hm = 0, bm = 0;
    for (std::size_t i = 0; i < x.size(); ++i) {
        hm += golden::bits(detail::fp16_to_float(detail::float_to_fp16(x[i]))) != golden::bits(h[i]);
        bm += golden::bits(detail::bf16_to_float(detail::float_to_bf16(x[i]))) != golden::bits(b[i]);
    }
    CHECK(hm == 0);
    CHECK(bm == 0);
    // and the quantizer's fp16 / bf16 formats are these casts (with saturation)
    xt::xtensor<float, 1> t = xt::adapt(std::vector<float>(x.begin(), x.begin() + 2000), {std::size_t(2000)});
    const auto qh = quantizer<fp16>{}.quantize(t).dequantize();
    const auto qb = quantizer<bf16>{}.quantize(t).dequantize();
    std::size_t qhm = 0, qbm = 0;
    for (std::size_t i = 0; i < 2000; ++i) {
        const bool over = std::isinf(h[i]);
        qhm += over ? (std::fabs(qh(i)) != 65504.0f) : (golden::bits(qh(i)) != golden::bits(h[i]));
        qbm += golden::bits(qb(i)) != golden::bits(b[i]);
    }
    CHECK(qhm == 0);
    CHECK(qbm == 0);
}
