#include <catch2/catch.hpp>

#include <cmath>
#include <cstdint>
#include <limits>
#include <random>

#include <compress/distill.hpp>

#include "test_random.hpp"

#include "families_golden.hpp"

using namespace compress;
using Catch::Matchers::Contains;
using Catch::Matchers::StartsWith;

namespace {
xt::xtensor<float, 2> random_matrix(std::size_t r, std::size_t c, unsigned seed, float scale = 2.0f) {
    return test_random::normal_matrix(r, c, seed, scale);
}

// Central finite difference of f (a scalar function of x) at every entry of x.
template <class F>
xt::xtensor<double, 2> numeric_gradient(xt::xtensor<float, 2> x, F f, float h = 1e-2f) {
    xt::xtensor<double, 2> g = xt::xtensor<double, 2>::from_shape(x.shape());
    for (std::size_t i = 0; i < x.size(); ++i) {
        const float keep = x.data()[i];
        x.data()[i] = keep + h;
        const double up = f(x);
        x.data()[i] = keep - h;
        const double down = f(x);
        x.data()[i] = keep;
        // Use the step actually represented in float.
        g.data()[i] = (up - down) / (static_cast<double>(keep + h) - static_cast<double>(keep - h));
    }
    return g;
}

template <class A, class B>
void check_close(const A& analytic, const B& numeric, double tol) {
    REQUIRE(analytic.size() == numeric.size());
    for (std::size_t i = 0; i < analytic.size(); ++i) {
        INFO("entry " << i);
        CHECK(static_cast<double>(analytic.data()[i]) == Approx(static_cast<double>(numeric.data()[i])).margin(tol));
    }
}
}  // namespace

TEST_CASE("softmax and log_softmax match hand-computed values", "[distill]") {
    xt::xtensor<float, 2> z = {{0.0f, std::log(2.0f)}, {std::log(3.0f), 0.0f}};
    auto p = softmax(z);
    CHECK(p(0, 0) == Approx(1.0 / 3.0));
    CHECK(p(0, 1) == Approx(2.0 / 3.0));
    CHECK(p(1, 0) == Approx(0.75));
    // T = 2 on doubled logits gives the same distribution.
    xt::xtensor<float, 2> z2 = z * 2.0f;
    auto pT = softmax(z2, 2.0);
    CHECK(pT(0, 1) == Approx(2.0 / 3.0));
    // Large T flattens towards uniform.
    auto flat = softmax(z, 1e6);
    CHECK(flat(0, 0) == Approx(0.5).margin(1e-6));
    auto lp = log_softmax(z);
    CHECK(lp(0, 0) == Approx(std::log(1.0 / 3.0)));
    CHECK(lp(1, 1) == Approx(std::log(0.25)));
}

TEST_CASE("softmax is stable for huge logits", "[distill]") {
    xt::xtensor<float, 2> z = {{1000.0f, 0.0f, -1000.0f}};
    auto p = softmax(z);
    CHECK(p(0, 0) == Approx(1.0));
    CHECK(p(0, 2) == 0.0f);
    auto lp = log_softmax(z);
    CHECK(std::isfinite(lp(0, 2)));
    CHECK(lp(0, 2) == Approx(-2000.0));
}

TEST_CASE("cross_entropy: hand-computed loss and gradient", "[distill]") {
    xt::xtensor<float, 2> z = {{0.0f, std::log(3.0f)}, {0.0f, 0.0f}};
    xt::xtensor<int, 1> y = {0, 1};
    auto r = cross_entropy(z, y);
    // sample 0: -log(1/4); sample 1: -log(1/2); mean over the batch.
    CHECK(r.loss == Approx((std::log(4.0) + std::log(2.0)) / 2.0));
    CHECK(r.grad(0, 0) == Approx((0.25 - 1.0) / 2.0));
    CHECK(r.grad(0, 1) == Approx(0.75 / 2.0));
    CHECK(r.grad(1, 1) == Approx(-0.5 / 2.0));
}

TEST_CASE("kd_loss matches PyTorch (cross_entropy + kl_div batchmean * T^2)", "[distill][golden]") {
    auto g = families_golden::read("kd.txt");
    auto s = families_golden::tensor<float, 2>(g["student"]);
    auto t = families_golden::tensor<float, 2>(g["teacher"]);
    auto y = families_golden::tensor<std::int64_t, 1>(g["labels"]);
    const double T = g["temperature"].values[0], alpha = g["alpha"].values[0];
    auto r = kd_loss(s, t, y, {T, alpha});
    CHECK(r.loss == Approx(g["loss"].values[0]).epsilon(1e-5));
    CHECK(r.hard == Approx(g["hard"].values[0]).epsilon(1e-5));
    CHECK(r.soft == Approx(g["soft"].values[0]).epsilon(1e-5));
    auto expected = families_golden::tensor<double, 2>(g["grad"]);
    check_close(r.grad, expected, 1e-6);
}

TEST_CASE("kd_loss gradient agrees with finite differences", "[distill]") {
    auto t = random_matrix(5, 6, 2);
    xt::xtensor<std::int64_t, 1> y = {0, 5, 2, 2, 3};
    for (double alpha : {0.0, 0.3, 1.0}) {
        for (double T : {1.0, 4.0}) {
            INFO("alpha " << alpha << " T " << T);
            auto s = random_matrix(5, 6, 1);
            auto r = kd_loss(s, t, y, {T, alpha});
            auto num = numeric_gradient(s, [&](const xt::xtensor<float, 2>& x) { return kd_loss(x, t, y, {T, alpha}).loss; });
            check_close(r.grad, num, 2e-4);
        }
    }
}

TEST_CASE("kd_loss: limits alpha = 1 (plain CE) and student == teacher (zero soft term)", "[distill]") {
    auto s = random_matrix(4, 3, 3);
    xt::xtensor<int, 1> y = {0, 1, 2, 1};
    auto t = random_matrix(4, 3, 4);
    auto hard = kd_loss(s, t, y, {3.0, 1.0});
    auto ce = cross_entropy(s, y);
    CHECK(hard.loss == Approx(ce.loss));
    CHECK(hard.soft == 0.0);
    check_close(hard.grad, ce.grad, 1e-7);
    auto same = kd_loss(s, s, y, {3.0, 0.0});
    CHECK(same.loss == Approx(0.0).margin(1e-12));
    for (auto v : same.grad) CHECK(v == Approx(0.0).margin(1e-7));
    // KL is never negative.
    CHECK(kd_loss(s, t, y, {2.0, 0.0}).loss > 0.0);
}

TEST_CASE("hard-target distillation uses the teacher's argmax (ties to the lowest index)", "[distill]") {
    xt::xtensor<float, 2> t = {{0.1f, 0.9f, 0.9f}, {2.0f, -1.0f, 0.0f}, {0.0f, 0.0f, 0.0f}};
    auto lab = teacher_labels(t);
    CHECK(lab(0) == 1);
    CHECK(lab(1) == 0);
    CHECK(lab(2) == 0);
    auto s = random_matrix(3, 3, 5);
    auto r = hard_kd_loss(s, t);
    auto ce = cross_entropy(s, lab);
    CHECK(r.loss == Approx(ce.loss));
    check_close(r.grad, ce.grad, 0.0);
}

TEST_CASE("feature_loss<mse> and <cosine>: hand-computed values", "[distill]") {
    xt::xtensor<float, 2> s = {{1.0f, 2.0f}, {0.0f, 3.0f}};
    xt::xtensor<float, 2> t = {{1.0f, 0.0f}, {0.0f, 1.0f}};
    auto m = feature_loss<mse>{}(s, t);
    CHECK(m.loss == Approx((0.0 + 4.0 + 0.0 + 4.0) / 4.0));
    CHECK(m.grad(0, 1) == Approx(2.0 * 2.0 / 4.0));
    CHECK_FALSE(feature_loss<mse>{}.has_projection());
    auto c = feature_loss<cosine>{}(s, t);
    // row 0: cos = 1/sqrt(5); row 1: parallel, cos = 1.
    CHECK(c.loss == Approx(((1.0 - 1.0 / std::sqrt(5.0)) + 0.0) / 2.0));
    CHECK(c.grad(1, 0) == Approx(0.0).margin(1e-7));
    CHECK(c.grad(1, 1) == Approx(0.0).margin(1e-7));
}

TEST_CASE("feature_loss gradients agree with finite differences, with and without projection", "[distill]") {
    auto s = random_matrix(4, 5, 11, 1.0f);
    auto t_same = random_matrix(4, 5, 12, 1.0f);
    auto t_wide = random_matrix(4, 7, 13, 1.0f);
    SECTION("mse") {
        feature_loss<mse> f;
        auto r = f(s, t_same);
        check_close(r.grad, numeric_gradient(s, [&](const auto& x) { return f(x, t_same).loss; }), 1e-4);
        feature_loss<mse> p(5, 7, 42);
        REQUIRE(p.has_projection());
        CHECK(p.weight.shape()[0] == 7);
        CHECK(p.weight.shape()[1] == 5);
        auto rp = p(s, t_wide);
        check_close(rp.grad, numeric_gradient(s, [&](const auto& x) { return p(x, t_wide).loss; }), 1e-4);
        auto q = p;
        auto num_w = numeric_gradient(p.weight, [&](const auto& w) { q.weight = w; return q(s, t_wide).loss; });
        check_close(rp.grad_weight, num_w, 1e-4);
        q = p;
        xt::xtensor<float, 2> b2 = xt::xtensor<float, 2>::from_shape({1, 7});
        std::copy(p.bias.begin(), p.bias.end(), b2.begin());
        auto num_b = numeric_gradient(b2, [&](const auto& b) {
            std::copy(b.begin(), b.end(), q.bias.begin());
            return q(s, t_wide).loss;
        });
        check_close(rp.grad_bias, num_b, 1e-4);
    }
    SECTION("cosine") {
        feature_loss<cosine> f;
        auto r = f(s, t_same);
        check_close(r.grad, numeric_gradient(s, [&](const auto& x) { return f(x, t_same).loss; }, 1e-3f), 2e-4);
        feature_loss<cosine> p(5, 7, 7);
        auto rp = p(s, t_wide);
        check_close(rp.grad, numeric_gradient(s, [&](const auto& x) { return p(x, t_wide).loss; }, 1e-3f), 2e-4);
        auto q = p;
        auto num_w = numeric_gradient(p.weight, [&](const auto& w) { q.weight = w; return q(s, t_wide).loss; }, 1e-3f);
        check_close(rp.grad_weight, num_w, 2e-4);
    }
}

TEST_CASE("feature_loss projection learns a linear map by SGD", "[distill]") {
    // teacher = s · Aᵀ for a fixed A: the projection can reach zero loss.
    auto s = random_matrix(32, 3, 21, 1.0f);
    xt::xtensor<float, 2> a = {{1.0f, -2.0f, 0.5f}, {0.0f, 1.0f, 1.0f}, {3.0f, 0.0f, -1.0f}, {0.5f, 0.5f, 0.5f}};
    xt::xtensor<float, 2> t = xt::xtensor<float, 2>::from_shape({32, 4});
    for (std::size_t b = 0; b < 32; ++b)
        for (std::size_t j = 0; j < 4; ++j) {
            float v = 0.0f;
            for (std::size_t k = 0; k < 3; ++k) v += s(b, k) * a(j, k);
            t(b, j) = v;
        }
    feature_loss<mse> p(3, 4, 1);
    const double first = p(s, t).loss;
    for (int it = 0; it < 2000; ++it) p.step(p(s, t), 0.5f);
    CHECK(p(s, t).loss < 1e-6 * first);
    CHECK(p.weight(2, 0) == Approx(3.0f).margin(1e-3));
}

TEST_CASE("distill: bad input throws typed errors with messages", "[distill][errors]") {
    auto s = random_matrix(3, 4, 1);
    auto t = random_matrix(3, 4, 2);
    xt::xtensor<int, 1> y = {0, 1, 2};
    xt::xtensor<int, 1> y_short = {0, 1};
    CHECK_THROWS_AS(kd_loss(s, t, y_short), shape_error);
    CHECK_THROWS_WITH(kd_loss(s, t, y_short),
                      "shape error: kd_loss: labels of shape [2] do not fit logits with 3 rows (expected [3])");
    CHECK_THROWS_AS(cross_entropy(s, y_short), shape_error);
    xt::xtensor<int, 1> y_bad = {0, 4, 1};
    CHECK_THROWS_AS(kd_loss(s, t, y_bad), value_error);
    CHECK_THROWS_WITH(kd_loss(s, t, y_bad), "value error: kd_loss: label 4 at (1) is not a class index in [0, 4)");
    xt::xtensor<int, 1> y_neg = {0, -1, 1};
    CHECK_THROWS_WITH(cross_entropy(s, y_neg), Contains("label -1 at (1)"));
    auto t_wide = random_matrix(3, 5, 2);
    CHECK_THROWS_AS(kd_loss(s, t_wide, y), shape_error);
    CHECK_THROWS_WITH(kd_loss(s, t_wide, y), "shape error: kd_loss: student logits of shape [3, 4] and teacher logits of shape [3, 5] differ");
    for (double T : {0.0, -1.0, std::nan("")}) {
        CHECK_THROWS_AS(kd_loss(s, t, y, {T, 0.5}), value_error);
        CHECK_THROWS_AS(softmax(s, T), value_error);
    }
    CHECK_THROWS_WITH(kd_loss(s, t, y, {0.0, 0.5}), StartsWith("value error: kd_loss: temperature must be a finite number > 0, got 0"));
    for (double a : {-0.1, 1.5, std::nan("")}) CHECK_THROWS_AS(kd_loss(s, t, y, {2.0, a}), value_error);
    CHECK_THROWS_WITH(kd_loss(s, t, y, {2.0, 1.5}), StartsWith("value error: kd_loss: alpha must be in [0, 1]"));
    auto s_nan = s;
    s_nan(2, 1) = std::numeric_limits<float>::quiet_NaN();
    CHECK_THROWS_AS(kd_loss(s_nan, t, y), value_error);
    CHECK_THROWS_WITH(kd_loss(s_nan, t, y), "value error: tensor 'student logits' has a non-finite value (NaN) at (2, 1)");
    auto t_inf = t;
    t_inf(0, 0) = std::numeric_limits<float>::infinity();
    CHECK_THROWS_WITH(kd_loss(s, t_inf, y), Contains("'teacher logits' has a non-finite value (Inf) at (0, 0)"));
    xt::xtensor<float, 1> flat = {1.0f, 2.0f};
    CHECK_THROWS_AS(softmax(flat), shape_error);
    CHECK_THROWS_WITH(softmax(flat), "shape error: tensor 'logits' must have rank 2, got shape [2]");
    CHECK_THROWS_AS(hard_kd_loss(s, t_wide), shape_error);
    // feature losses
    CHECK_THROWS_AS(feature_loss<mse>{}(s, t_wide), shape_error);
    CHECK_THROWS_WITH(feature_loss<mse>{}(s, t_wide), Contains("differ in width; construct feature_loss(student_width, teacher_width)"));
    feature_loss<cosine> p(4, 6);
    CHECK_THROWS_WITH(p(s, t_wide), Contains("projection maps width 4 to 6, got student features [3, 4] and teacher features [3, 5]"));
    auto t_short = random_matrix(2, 4, 9);
    CHECK_THROWS_WITH(feature_loss<mse>{}(s, t_short), Contains("have different batch sizes"));
    CHECK_THROWS_AS(feature_loss<mse>{}(s_nan, t), value_error);
    CHECK_THROWS_AS(feature_loss<mse>(0, 3), shape_error);
}
