#include <catch2/catch.hpp>

#include <cmath>
#include <limits>
#include <random>

#include <compress/regularize.hpp>

using namespace compress;
using Catch::Matchers::Contains;
using Catch::Matchers::StartsWith;

namespace {
template <std::size_t N>
xt::xtensor<double, N> random_tensor(const std::array<std::size_t, N>& shape, unsigned seed) {
    std::mt19937 rng(seed);
    std::normal_distribution<double> d(0.0, 1.0);
    xt::xtensor<double, N> t = xt::xtensor<double, N>::from_shape(shape);
    for (auto& v : t) v = d(rng);
    return t;
}

template <class P, std::size_t N>
void check_gradient_fd(const xt::xtensor<double, N>& w) {
    auto g = penalty_gradient<P>(w);
    const double h = 1e-6;
    for (std::size_t i = 0; i < w.size(); ++i) {
        auto up = w, down = w;
        up.data()[i] += h;
        down.data()[i] -= h;
        INFO(P::name() << " entry " << i);
        CHECK(g.data()[i] == Approx((penalty<P>(up) - penalty<P>(down)) / (2 * h)).margin(1e-6));
    }
}

// The proximal operator minimises 1/2 ||p - w||^2 + lambda * P(p): no small perturbation of
// its output does better.
template <class P, std::size_t N>
void check_prox_minimises(const xt::xtensor<double, N>& w, double lambda, unsigned seed) {
    auto p = w;
    proximal_step<P>(p, lambda);
    auto objective = [&](const xt::xtensor<double, N>& x) {
        double d = 0.0;
        for (std::size_t i = 0; i < x.size(); ++i) d += 0.5 * (x.data()[i] - w.data()[i]) * (x.data()[i] - w.data()[i]);
        return d + lambda * penalty<P>(x);
    };
    const double best = objective(p);
    std::mt19937 rng(seed);
    std::normal_distribution<double> d(0.0, 1e-3);
    for (int trial = 0; trial < 200; ++trial) {
        auto q = p;
        for (auto& v : q) v += d(rng);
        CHECK(objective(q) >= best - 1e-12);
    }
}
}  // namespace

TEST_CASE("penalties: hand-computed values", "[regularize]") {
    xt::xtensor<float, 2> w = {{3.0f, -4.0f}, {0.0f, 0.0f}, {1.0f, 0.0f}};
    CHECK(penalty<l1_penalty>(w) == 8.0);
    CHECK(penalty<l2_penalty>(w) == Approx(0.5 * 26.0));
    CHECK(penalty<group_lasso_rows>(w) == Approx(5.0 + 0.0 + 1.0));
    CHECK(penalty<group_lasso_columns>(w) == Approx(std::sqrt(10.0) + 4.0));
    // conv [out=2, in=2, 1, 2]: rows are filters, columns are input channels.
    xt::xtensor<float, 4> c = xt::zeros<float>({2, 2, 1, 2});
    c(0, 0, 0, 0) = 3.0f;
    c(0, 1, 0, 1) = 4.0f;
    c(1, 1, 0, 0) = 2.0f;
    CHECK(penalty<group_lasso_rows>(c) == Approx(5.0 + 2.0));
    CHECK(penalty<group_lasso_columns>(c) == Approx(3.0 + std::sqrt(16.0 + 4.0)));
}

TEST_CASE("penalty gradients agree with finite differences", "[regularize]") {
    auto w = random_tensor<2>({4, 5}, 1);
    check_gradient_fd<l1_penalty>(w);
    check_gradient_fd<l2_penalty>(w);
    check_gradient_fd<group_lasso_rows>(w);
    check_gradient_fd<group_lasso_columns>(w);
    auto c = random_tensor<4>({3, 2, 2, 2}, 2);
    check_gradient_fd<group_lasso_rows>(c);
    check_gradient_fd<group_lasso_columns>(c);
    // Subgradient 0 at 0 (weights and whole groups).
    xt::xtensor<float, 2> z = {{0.0f, 0.0f}, {1.0f, -2.0f}};
    auto g1 = penalty_gradient<l1_penalty>(z);
    CHECK(g1(0, 0) == 0.0f);
    CHECK(g1(1, 1) == -1.0f);
    auto gr = penalty_gradient<group_lasso_rows>(z);
    CHECK(gr(0, 1) == 0.0f);
    CHECK(gr(1, 0) == Approx(1.0 / std::sqrt(5.0)));
    xt::xtensor<float, 2> grad = xt::ones<float>({2, 2});
    add_penalty_gradient<l2_penalty>(grad, z, 0.5);
    CHECK(grad(1, 1) == Approx(1.0 - 1.0));
    CHECK(grad(1, 0) == Approx(1.5));
}

TEST_CASE("soft_threshold and group_soft_threshold: exact zeros and hand-computed values", "[regularize]") {
    xt::xtensor<float, 2> w = {{3.0f, -0.5f}, {0.2f, -2.0f}};
    auto m = soft_threshold(w, 1.0);
    CHECK(w(0, 0) == 2.0f);
    CHECK(w(0, 1) == 0.0f);
    CHECK(w(1, 0) == 0.0f);
    CHECK(w(1, 1) == -1.0f);
    CHECK(m.kept() == 2);
    CHECK_FALSE(m(0, 1));
    xt::xtensor<float, 2> r = {{3.0f, 4.0f}, {0.3f, 0.4f}};
    auto mr = group_soft_threshold<0>(r, 1.0);
    CHECK(r(0, 0) == Approx(2.4f));
    CHECK(r(0, 1) == Approx(3.2f));
    CHECK(r(1, 0) == 0.0f);
    CHECK(r(1, 1) == 0.0f);
    CHECK(mr.kept() == 2);
    xt::xtensor<float, 4> c = xt::zeros<float>({2, 2, 1, 1});
    c(0, 0, 0, 0) = 0.6f;
    c(1, 0, 0, 0) = 0.8f;  // channel 0: norm 1
    c(0, 1, 0, 0) = 0.1f;  // channel 1: norm 0.1
    auto mc = proximal_step<group_lasso_columns>(c, 0.5);
    CHECK(c(0, 0, 0, 0) == Approx(0.3f));
    CHECK(c(1, 0, 0, 0) == Approx(0.4f));
    CHECK(c(0, 1, 0, 0) == 0.0f);
    CHECK(mc.kept() == 2);
    xt::xtensor<float, 1> v = {2.0f, -4.0f};
    proximal_step<l2_penalty>(v, 1.0);
    CHECK(v(0) == 1.0f);
    CHECK(v(1) == -2.0f);
}

TEST_CASE("proximal steps minimise the proximal objective", "[regularize]") {
    auto w = random_tensor<2>({5, 4}, 3);
    check_prox_minimises<l1_penalty>(w, 0.7, 1);
    check_prox_minimises<l2_penalty>(w, 0.7, 2);
    check_prox_minimises<group_lasso_rows>(w, 1.2, 3);
    check_prox_minimises<group_lasso_columns>(w, 1.2, 4);
}

TEST_CASE("proximal gradient (ISTA) on a lasso problem yields exact zeros on irrelevant inputs", "[regularize]") {
    // y = x·wtrueᵀ with only inputs 1 and 4 relevant; one linear layer [2 outputs, 8 inputs].
    const std::size_t n = 200, in = 8, out = 2;
    std::mt19937 rng(7);
    std::normal_distribution<float> d(0.0f, 1.0f);
    xt::xtensor<float, 2> x = xt::xtensor<float, 2>::from_shape({n, in});
    for (auto& v : x) v = d(rng);
    xt::xtensor<float, 2> wtrue = xt::zeros<float>({out, in});
    wtrue(0, 1) = 2.0f;
    wtrue(1, 4) = -1.5f;
    wtrue(1, 1) = 1.0f;
    auto train = [&](auto prox, double lambda) {
        xt::xtensor<float, 2> w = xt::zeros<float>({out, in});
        const float lr = 0.1f;
        mask<2> m;
        for (int it = 0; it < 300; ++it) {
            xt::xtensor<float, 2> g = xt::zeros<float>({out, in});
            for (std::size_t s = 0; s < n; ++s)
                for (std::size_t o = 0; o < out; ++o) {
                    float e = 0.0f;
                    for (std::size_t i = 0; i < in; ++i) e += x(s, i) * (w(o, i) - wtrue(o, i));
                    for (std::size_t i = 0; i < in; ++i) g(o, i) += e * x(s, i) / static_cast<float>(n);
                }
            w -= lr * g;
            m = prox(w, lr * lambda);
        }
        return std::make_pair(w, m);
    };
    auto [w1, m1] = train([](auto& w, double t) { return soft_threshold(w, t); }, 0.05);
    CHECK(m1.kept() == 3);
    CHECK(w1(0, 0) == 0.0f);
    CHECK(w1(0, 1) == Approx(2.0f - 0.05f).margin(0.05));
    CHECK(w1(1, 4) == Approx(-1.5f + 0.05f).margin(0.05));
    // Group lasso over columns: whole unused inputs vanish, used ones stay.
    auto [w2, m2] = train([](auto& w, double t) { return group_soft_threshold<1>(w, t); }, 0.05);
    for (std::size_t i : {0u, 2u, 3u, 5u, 6u, 7u}) {
        CHECK(w2(0, i) == 0.0f);
        CHECK(w2(1, i) == 0.0f);
    }
    CHECK(w2(1, 1) != 0.0f);
    CHECK(m2.kept() == 4);  // columns 1 and 4, both rows
}

TEST_CASE("regularize: bad input throws typed errors with messages", "[regularize][errors]") {
    xt::xtensor<float, 2> w = {{1.0f, 2.0f}, {3.0f, 4.0f}};
    CHECK_THROWS_AS(soft_threshold(w, -0.1), value_error);
    CHECK_THROWS_WITH(soft_threshold(w, -0.1),
                      StartsWith("value error: soft_threshold: threshold (lambda * step) must be a finite number >= 0"));
    CHECK_THROWS_AS(group_soft_threshold<0>(w, std::nan("")), value_error);
    CHECK_THROWS_AS(proximal_step<l2_penalty>(w, std::numeric_limits<double>::infinity()), value_error);
    xt::xtensor<float, 1> v = {1.0f, 2.0f};
    CHECK_THROWS_AS(penalty<group_lasso_rows>(v), shape_error);
    CHECK_THROWS_WITH(penalty<group_lasso_rows>(v),
                      "shape error: penalty<group_lasso>: group lasso needs a weight of rank >= 2 ([out, in] or [out, in, kh, kw]), got shape [2]");
    CHECK_THROWS_AS(proximal_step<group_lasso_columns>(v, 0.1), shape_error);
    auto bad = w;
    bad(1, 0) = std::numeric_limits<float>::quiet_NaN();
    CHECK_THROWS_WITH(penalty<l1_penalty>(bad), "value error: tensor 'weight' has a non-finite value (NaN) at (1, 0)");
    CHECK_THROWS_AS(penalty_gradient<l2_penalty>(bad), value_error);
    CHECK_THROWS_AS(soft_threshold(bad, 0.1), value_error);
    xt::xtensor<float, 2> g3 = xt::zeros<float>({3, 2});
    CHECK_THROWS_AS(add_penalty_gradient<l1_penalty>(g3, w, 0.1), shape_error);
    CHECK_THROWS_WITH(add_penalty_gradient<l1_penalty>(g3, w, 0.1), Contains("gradient of shape [3, 2] does not fit weight of shape [2, 2]"));
}
