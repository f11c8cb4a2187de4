// error_report (MSE, SQNR, max abs error, per channel) and bias correction after weight
// quantization (Nagel et al. 2019), shown to remove the output bias and recover accuracy.
#include <catch2/catch.hpp>

#include <cmath>
#include <random>
#include <utility>
#include <vector>

#include <compress/quantize.hpp>

using namespace compress;

TEST_CASE("error_report: hand-computed MSE, SQNR and max error, per channel", "[quantize][analysis]") {
    const xt::xtensor<float, 2> w = {{1.0f, -2.0f}, {0.5f, 4.0f}};
    const xt::xtensor<float, 2> a = {{1.5f, -2.0f}, {0.5f, 3.0f}};
    const auto r = error_report(w, a, true);
    // errors 0.5, 0, 0, 1: MSE 1.25/4; signal 1 + 4 + 0.25 + 16 = 21.25
    CHECK(r.total.mse == Approx(1.25 / 4));
    CHECK(r.total.max_abs == 1.0);
    CHECK(r.total.sqnr_db == Approx(10.0 * std::log10(21.25 / 1.25)));
    REQUIRE(r.channels.size() == 2);
    CHECK(r.channels[0].mse == Approx(0.125));
    CHECK(r.channels[1].max_abs == 1.0);
    CHECK(r.channels[1].sqnr_db == Approx(10.0 * std::log10(16.25 / 1.0)));
    CHECK(error_report(w, w).total.sqnr_db == std::numeric_limits<double>::infinity());
    CHECK(error_report(w, a).channels.empty());
    // with a quantized_tensor, the same as with its dequantized form
    const auto q = quantizer<int4, symmetric, per_channel<0>>{}.quantize(w);
    const auto rq = error_report(w, q);
    const auto rd = error_report(w, q.dequantize());
    CHECK(rq.total.mse == rd.total.mse);
    CHECK(rq.total.max_abs <= 0.5 * q.scale(1) * 1.0001);
}

TEST_CASE("int8 per-channel SQNR on N(0,1) is near the uniform-noise estimate", "[quantize][analysis]") {
    xt::xtensor<float, 2> w = xt::xtensor<float, 2>::from_shape({64, 512});
    std::mt19937 rng(3);
    std::normal_distribution<float> nd(0.0f, 1.0f);
    for (auto& v : w) v = nd(rng);
    const auto q = quantizer<int8, symmetric, per_channel<0>>{}.quantize(w);
    const auto r = error_report(w, q, true);
    // noise ~ scale²/12 per channel
    double expect = 0.0;
    for (std::size_t c = 0; c < 64; ++c) expect += q.scale(c) * q.scale(c) / 12.0;
    expect /= 64.0;
    CHECK(r.total.mse == Approx(expect).epsilon(0.1));
    CHECK(r.channels.size() == 64);
}

TEST_CASE("bias correction removes the expected output error of a quantized linear layer", "[quantize][analysis]") {
    const std::size_t out = 10, in = 64;
    std::mt19937 rng(9);
    std::normal_distribution<float> nd(0.0f, 1.0f);
    xt::xtensor<float, 2> w = xt::xtensor<float, 2>::from_shape({out, in});
    for (auto& v : w) v = 0.2f * nd(rng) + 0.05f;  // shifted weights: quantization error has a mean
    xt::xtensor<float, 1> b = xt::zeros<float>({out});
    // ReLU-like activations with a nonzero mean; calibration and held-out sets
    auto acts = [&](std::size_t n) {
        xt::xtensor<float, 2> x = xt::xtensor<float, 2>::from_shape({n, in});
        for (auto& v : x) v = std::max(0.0f, nd(rng) + 0.5f);
        return x;
    };
    const auto calib = acts(512), test = acts(2048);
    const auto q = quantizer<int2, symmetric, per_channel<0>>{}.quantize(w);
    const auto wq = q.dequantize();
    const auto bc = bias_correction(w, q, calib, b);
    // the correction equals (W - Ŵ)·E_calib[x], computed here directly
    for (std::size_t o = 0; o < out; ++o) {
        double m = 0.0;
        for (std::size_t i = 0; i < in; ++i) {
            double ex = 0.0;
            for (std::size_t n = 0; n < 512; ++n) ex += calib(n, i);
            m += (w(o, i) - wq(o, i)) * ex / 512.0;
        }
        CHECK(bc(o) == Approx(m).margin(1e-5));
    }
    // on held-out data: mean output error ~0 after correction, MSE lower, argmax agreement up
    double mean_before = 0.0, mean_after = 0.0, mse_before = 0.0, mse_after = 0.0;
    int agree_before = 0, agree_after = 0;
    for (std::size_t n = 0; n < test.shape()[0]; ++n) {
        std::size_t arg_ref = 0, arg_q = 0, arg_c = 0;
        double best_ref = -1e30, best_q = -1e30, best_c = -1e30;
        for (std::size_t o = 0; o < out; ++o) {
            double y = 0.0, yq = 0.0;
            for (std::size_t i = 0; i < in; ++i) {
                y += w(o, i) * test(n, i);
                yq += wq(o, i) * test(n, i);
            }
            const double yc = yq + bc(o);
            mean_before += y - yq;
            mean_after += y - yc;
            mse_before += (y - yq) * (y - yq);
            mse_after += (y - yc) * (y - yc);
            if (y > best_ref) best_ref = y, arg_ref = o;
            if (yq > best_q) best_q = yq, arg_q = o;
            if (yc > best_c) best_c = yc, arg_c = o;
        }
        agree_before += arg_ref == arg_q;
        agree_after += arg_ref == arg_c;
    }
    const double cnt = static_cast<double>(test.shape()[0] * out);
    CHECK(std::fabs(mean_after / cnt) < 0.1 * std::fabs(mean_before / cnt));
    CHECK(mse_after < mse_before);
    CHECK(agree_after >= agree_before);
}

TEST_CASE("bias correction of a conv weight uses the per-channel activation mean", "[quantize][analysis]") {
    xt::xtensor<float, 4> w = xt::xtensor<float, 4>::from_shape({2, 3, 2, 2});
    xt::xtensor<float, 4> wh = xt::xtensor<float, 4>::from_shape({2, 3, 2, 2});
    for (std::size_t i = 0; i < w.size(); ++i) {
        w.data()[i] = 0.1f * static_cast<float>(i);
        wh.data()[i] = w.data()[i] - ((i % 2) ? 0.5f : 0.25f);  // W - Ŵ alternates 0.25, 0.5
    }
    xt::xtensor<float, 4> x = xt::xtensor<float, 4>::from_shape({2, 3, 4, 4});
    for (std::size_t n = 0; n < 2; ++n)
        for (std::size_t c = 0; c < 3; ++c)
            for (std::size_t k = 0; k < 16; ++k) x(n, c, k / 4, k % 4) = static_cast<float>(c + 1);  // E[x_c] = c+1
    const xt::xtensor<float, 1> b = {1.0f, -1.0f};
    const auto bc = bias_correction(w, wh, x, b);
    // per (o, c): Σ_k (W-Ŵ) = 0.25+0.5+0.25+0.5 = 1.5; Σ_c 1.5·(c+1) = 9
    CHECK(bc(0) == Approx(1.0 + 9.0));
    CHECK(bc(1) == Approx(-1.0 + 9.0));
}

namespace {
// A least-squares layer y = W·x on correlated inputs (so that rounding each weight to its nearest
// level is not the best quantized solution); loss = mean over samples of |Ŵx − W*x|².
struct regression {
    std::size_t out = 8, in = 32, n = 512;
    xt::xtensor<float, 2> wstar, x, y;
    regression() {
        std::mt19937 rng(3);
        std::normal_distribution<float> nd(0.0f, 1.0f);
        wstar = xt::xtensor<float, 2>::from_shape({out, in});
        for (auto& v : wstar) v = 0.25f * nd(rng);
        xt::xtensor<float, 2> a = xt::xtensor<float, 2>::from_shape({in, in});
        for (auto& v : a) v = nd(rng);
        for (std::size_t i = 0; i < in; ++i) a(i, i) += 3.0f;
        xt::xtensor<float, 2> z = xt::xtensor<float, 2>::from_shape({in, n});
        for (auto& v : z) v = nd(rng);
        x = xt::zeros<float>({in, n});
        for (std::size_t i = 0; i < in; ++i)
            for (std::size_t k = 0; k < in; ++k)
                for (std::size_t j = 0; j < n; ++j) x(i, j) += a(i, k) * z(k, j) / 4.0f;
        y = forward(wstar);
    }
    // plain row-major pointer loops: 900 SGD steps of forward + gradient through xtensor's
    // operator() took 30 s under the sanitizer build at -O0
    xt::xtensor<float, 2> forward(const xt::xtensor<float, 2>& w) const {
        xt::xtensor<float, 2> p = xt::zeros<float>({out, n});
        const float* wp = w.data();
        const float* xp = x.data();
        float* pp = p.data();
        for (std::size_t o = 0; o < out; ++o)
            for (std::size_t i = 0; i < in; ++i) {
                const float woi = wp[o * in + i];
                const float* xr = xp + i * n;
                float* pr = pp + o * n;
                for (std::size_t j = 0; j < n; ++j) pr[j] += woi * xr[j];
            }
        return p;
    }
    double loss(const xt::xtensor<float, 2>& w) const {
        const auto p = forward(w);
        double s = 0.0;
        for (std::size_t i = 0; i < p.size(); ++i) s += (p.data()[i] - y.data()[i]) * (p.data()[i] - y.data()[i]);
        return s / static_cast<double>(n);
    }
    /// dLoss/dŴ at Ŵ = wq.
    xt::xtensor<float, 2> grad(const xt::xtensor<float, 2>& wq) const {
        const auto p = forward(wq);
        xt::xtensor<float, 2> g = xt::xtensor<float, 2>::from_shape({out, in});
        const float* pp = p.data();
        const float* yp = y.data();
        const float* xp = x.data();
        for (std::size_t o = 0; o < out; ++o)
            for (std::size_t i = 0; i < in; ++i) {
                double s = 0.0;
                for (std::size_t j = 0; j < n; ++j) s += (pp[o * n + j] - yp[o * n + j]) * xp[i * n + j];
                g(o, i) = static_cast<float>(2.0 * s / static_cast<double>(n));
            }
        return g;
    }
};

/// QAT from the fp32 solution: calibrate on it and freeze the range, then SGD on the latent
/// weights with the fake-quantized forward and the straight-through gradient.
template <class Q>
std::pair<double, double> qat_vs_ptq(const regression& task) {
    const double ptq = task.loss(Q{}.quantize(task.wstar).dequantize());
    Q fq;
    xt::xtensor<float, 2> w = task.wstar;
    fq.fake_quantize(w);  // observes the initial weights
    fq.freeze();          // later steps keep that range
    const auto range0 = fq.calibrated_params();
    float lr = 0.001f;
    for (int step = 0; step < 300; ++step) {
        const auto wq = fq.fake_quantize(w);
        w -= lr * fq.ste_gradient(w, task.grad(wq));
        lr *= 0.985f;
    }
    const auto range1 = fq.calibrated_params();
    for (std::size_t s = 0; s < range0.size(); ++s) CHECK(range1[s].scale == range0[s].scale);
    return {ptq, task.loss(fq.fake_quantize(w))};
}
}  // namespace

TEST_CASE("QAT: fake_quantize + straight-through gradient in an SGD loop beats post-training quantization", "[quantize][analysis]") {
    const regression task;
    const auto [ptq2, qat2] = qat_vs_ptq<quantizer<int2, symmetric, per_channel<0>>>(task);
    INFO("int2 ptq " << ptq2 << " qat " << qat2);
    CHECK(qat2 < 0.92 * ptq2);
    const auto [ptq4, qat4] = qat_vs_ptq<quantizer<int4, symmetric, per_channel<0>, moving_average_minmax>>(task);
    INFO("int4 ptq " << ptq4 << " qat " << qat4);
    CHECK(qat4 < 0.92 * ptq4);
    const auto [ptqt, qatt] = qat_vs_ptq<quantizer<ternary, symmetric, per_channel<0>>>(task);
    INFO("ternary ptq " << ptqt << " qat " << qatt);
    CHECK(qatt < 0.92 * ptqt);
}
