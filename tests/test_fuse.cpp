#include <catch2/catch.hpp>

#include <cmath>
#include <limits>
#include <random>

#include <compress/fuse.hpp>

#include "families_golden.hpp"

using namespace compress;
using Catch::Matchers::Contains;
using Catch::Matchers::StartsWith;

namespace {
// y[b, o] = sum_i x[b, i] w[o, i] + bias[o], in double.
xt::xtensor<double, 2> ref_linear(const xt::xtensor<float, 2>& x, const xt::xtensor<float, 2>& w,
                                  const xt::xtensor<float, 1>& b) {
    xt::xtensor<double, 2> y = xt::zeros<double>({x.shape()[0], w.shape()[0]});
    for (std::size_t s = 0; s < x.shape()[0]; ++s)
        for (std::size_t o = 0; o < w.shape()[0]; ++o) {
            double a = b(o);
            for (std::size_t i = 0; i < w.shape()[1]; ++i) a += double(x(s, i)) * w(o, i);
            y(s, o) = a;
        }
    return y;
}

// Direct 2-D convolution, stride 1, zero padding `pad`, NCHW / OIHW as PyTorch.
xt::xtensor<double, 4> ref_conv(const xt::xtensor<float, 4>& x, const xt::xtensor<float, 4>& w,
                                const xt::xtensor<float, 1>& b, std::size_t pad) {
    const std::size_t B = x.shape()[0], C = x.shape()[1], H = x.shape()[2], W = x.shape()[3];
    const std::size_t O = w.shape()[0], KH = w.shape()[2], KW = w.shape()[3];
    const std::size_t OH = H + 2 * pad - KH + 1, OW = W + 2 * pad - KW + 1;
    xt::xtensor<double, 4> y = xt::zeros<double>({B, O, OH, OW});
    for (std::size_t n = 0; n < B; ++n)
        for (std::size_t o = 0; o < O; ++o)
            for (std::size_t i = 0; i < OH; ++i)
                for (std::size_t j = 0; j < OW; ++j) {
                    double a = b(o);
                    for (std::size_t c = 0; c < C; ++c)
                        for (std::size_t ki = 0; ki < KH; ++ki)
                            for (std::size_t kj = 0; kj < KW; ++kj) {
                                const long r = long(i + ki) - long(pad), q = long(j + kj) - long(pad);
                                if (r < 0 || q < 0 || r >= long(H) || q >= long(W)) continue;
                                a += double(x(n, c, std::size_t(r), std::size_t(q))) * w(o, c, ki, kj);
                            }
                    y(n, o, i, j) = a;
                }
    return y;
}

// Batch norm in eval mode along axis 1, in double.
template <std::size_t N>
xt::xtensor<double, N> ref_bn(xt::xtensor<double, N> y, const batchnorm_stats& bn) {
    const std::size_t C = y.shape()[1];
    const std::size_t inner = y.size() / (y.shape()[0] * C);
    for (std::size_t i = 0; i < y.size(); ++i) {
        const std::size_t c = (i / inner) % C;
        y.data()[i] = (y.data()[i] - bn.running_mean(c)) / std::sqrt(double(bn.running_var(c)) + bn.eps) * bn.gamma(c) +
                      bn.beta(c);
    }
    return y;
}

xt::xtensor<float, 1> randv(std::size_t n, std::mt19937& rng, float lo, float hi) {
    std::uniform_real_distribution<float> d(lo, hi);
    xt::xtensor<float, 1> v = xt::xtensor<float, 1>::from_shape({n});
    for (auto& x : v) x = d(rng);
    return v;
}

template <class A, class B>
void check_close(const A& a, const B& b, double rel, double abs) {
    REQUIRE(a.size() == b.size());
    for (std::size_t i = 0; i < a.size(); ++i) {
        INFO("entry " << i);
        CHECK(double(a.data()[i]) == Approx(double(b.data()[i])).epsilon(rel).margin(abs));
    }
}

batchnorm_stats golden_bn(std::map<std::string, families_golden::entry>& g, const std::string& p) {
    batchnorm_stats bn;
    bn.gamma = families_golden::tensor<float, 1>(g[p + "_gamma"]);
    bn.beta = families_golden::tensor<float, 1>(g[p + "_beta"]);
    bn.running_mean = families_golden::tensor<float, 1>(g[p + "_mean"]);
    bn.running_var = families_golden::tensor<float, 1>(g[p + "_var"]);
    bn.eps = g[p + "_eps"].values[0];
    return bn;
}
}  // namespace

TEST_CASE("fold_batchnorm matches PyTorch's Linear+BatchNorm1d and Conv2d+BatchNorm2d", "[fuse][golden]") {
    auto g = families_golden::read("fold.txt");
    auto f1 = fold_batchnorm(families_golden::tensor<float, 2>(g["lin_w"]), families_golden::tensor<float, 1>(g["lin_b"]),
                             golden_bn(g, "bn1"));
    auto y1 = ref_linear(families_golden::tensor<float, 2>(g["x1"]), f1.weight, f1.bias);
    check_close(y1, families_golden::tensor<double, 2>(g["y1"]), 1e-5, 1e-5);
    auto f2 = fold_batchnorm(families_golden::tensor<float, 4>(g["conv_w"]), families_golden::tensor<float, 1>(g["conv_b"]),
                             golden_bn(g, "bn2"));
    auto y2 = ref_conv(families_golden::tensor<float, 4>(g["x2"]), f2.weight, f2.bias, 1);
    check_close(y2, families_golden::tensor<double, 4>(g["y2"]), 1e-5, 1e-5);
}

TEST_CASE("fold_batchnorm is exact to float tolerance against the unfused layers", "[fuse]") {
    std::mt19937 rng(3);
    std::normal_distribution<float> d(0.0f, 1.0f);
    batchnorm_stats bn{randv(6, rng, 0.5f, 2.0f), randv(6, rng, -1.0f, 1.0f), randv(6, rng, -1.0f, 1.0f),
                       randv(6, rng, 0.01f, 3.0f), 1e-5};
    SECTION("linear") {
        xt::xtensor<float, 2> w = xt::xtensor<float, 2>::from_shape({6, 10});
        for (auto& v : w) v = d(rng);
        auto b = randv(6, rng, -1.0f, 1.0f);
        xt::xtensor<float, 2> x = xt::xtensor<float, 2>::from_shape({5, 10});
        for (auto& v : x) v = d(rng);
        auto f = fold_batchnorm(w, b, bn);
        check_close(ref_linear(x, f.weight, f.bias), ref_bn(ref_linear(x, w, b), bn), 1e-5, 1e-5);
        // Without a bias the layer's bias is zero.
        xt::xtensor<float, 1> zero = xt::zeros<float>({6});
        auto fn = fold_batchnorm(w, bn);
        check_close(ref_linear(x, fn.weight, fn.bias), ref_bn(ref_linear(x, w, zero), bn), 1e-5, 1e-5);
    }
    SECTION("conv") {
        xt::xtensor<float, 4> w = xt::xtensor<float, 4>::from_shape({6, 2, 3, 3});
        for (auto& v : w) v = d(rng);
        auto b = randv(6, rng, -1.0f, 1.0f);
        xt::xtensor<float, 4> x = xt::xtensor<float, 4>::from_shape({2, 2, 4, 5});
        for (auto& v : x) v = d(rng);
        auto f = fold_batchnorm(w, b, bn);
        check_close(ref_conv(x, f.weight, f.bias, 0), ref_bn(ref_conv(x, w, b, 0), bn), 1e-5, 1e-5);
    }
}

TEST_CASE("average and interpolate: hand-computed values", "[fuse]") {
    xt::xtensor<float, 2> a = {{1.0f, 2.0f}, {3.0f, 4.0f}};
    xt::xtensor<float, 2> b = {{3.0f, 2.0f}, {1.0f, 0.0f}};
    xt::xtensor<float, 2> c = {{5.0f, 5.0f}, {5.0f, 5.0f}};
    auto u = compress::average(std::vector<xt::xtensor<float, 2>>{a, b, c});
    CHECK(u(0, 0) == Approx(3.0f));
    CHECK(u(1, 1) == Approx(3.0f));
    auto w = compress::average(std::vector<xt::xtensor<float, 2>>{a, b}, {3.0, 1.0});
    CHECK(w(0, 0) == Approx(1.5f));
    CHECK(w(1, 1) == Approx(3.0f));
    auto one = compress::average(std::vector<xt::xtensor<float, 2>>{a});
    CHECK((one == a));
    auto i0 = interpolate(a, b, 0.0);
    CHECK((i0 == a));
    auto i1 = interpolate(a, b, 1.0);
    CHECK((i1 == b));
    auto iq = interpolate(a, b, 0.25);
    CHECK(iq(0, 0) == Approx(1.5f));
    CHECK(iq(1, 1) == Approx(3.0f));
    auto ie = interpolate(a, b, 2.0);  // extrapolation: a + 2 (b - a)
    CHECK(ie(1, 0) == Approx(-1.0f));
    // The midpoint of two tensors is their uniform average.
    auto mid = interpolate(a, c, 0.5);
    auto avg = compress::average(std::vector<xt::xtensor<float, 2>>{a, c});
    CHECK((mid == avg));
}

TEST_CASE("merge_linear equals applying the two layers in sequence", "[fuse]") {
    std::mt19937 rng(9);
    std::normal_distribution<float> d(0.0f, 1.0f);
    xt::xtensor<float, 2> w1 = xt::xtensor<float, 2>::from_shape({7, 5});
    xt::xtensor<float, 2> w2 = xt::xtensor<float, 2>::from_shape({3, 7});
    xt::xtensor<float, 2> x = xt::xtensor<float, 2>::from_shape({4, 5});
    for (auto* t : {&w1, &w2, &x})
        for (auto& v : *t) v = d(rng);
    auto b1 = randv(7, rng, -1.0f, 1.0f), b2 = randv(3, rng, -1.0f, 1.0f);
    auto m = merge_linear(w1, b1, w2, b2);
    REQUIRE(m.weight.shape()[0] == 3);
    REQUIRE(m.weight.shape()[1] == 5);
    auto h = ref_linear(x, w1, b1);
    xt::xtensor<float, 2> hf = xt::xtensor<float, 2>::from_shape(h.shape());
    std::copy(h.begin(), h.end(), hf.begin());
    check_close(ref_linear(x, m.weight, m.bias), ref_linear(hf, w2, b2), 1e-5, 1e-5);
}

TEST_CASE("fuse: bad input throws typed errors with messages", "[fuse][errors]") {
    xt::xtensor<float, 2> a = xt::ones<float>({2, 3});
    xt::xtensor<float, 2> b = xt::ones<float>({3, 2});
    using list = std::vector<xt::xtensor<float, 2>>;
    CHECK_THROWS_AS(compress::average(list{}), value_error);
    CHECK_THROWS_WITH(compress::average(list{}), "value error: average: no tensors to average");
    CHECK_THROWS_AS(compress::average(list{a, b}), shape_error);
    CHECK_THROWS_WITH(compress::average(list{a, b}), "shape error: average: tensor 1 has shape [3, 2], tensor 0 has [2, 3]");
    CHECK_THROWS_WITH(compress::average(list{a, a}, {1.0}), "shape error: average: 1 weights for 2 tensors");
    CHECK_THROWS_WITH(compress::average(list{a, a}, {1.0, -1.0}), StartsWith("value error: average: weight 1 must be finite and >= 0"));
    CHECK_THROWS_WITH(compress::average(list{a, a}, {0.0, 0.0}), "value error: average: the weights sum to 0");
    auto n = a;
    n(1, 2) = std::numeric_limits<float>::quiet_NaN();
    CHECK_THROWS_WITH(compress::average(list{a, n}), "value error: tensor 'average input 1' has a non-finite value (NaN) at (1, 2)");
    CHECK_THROWS_AS(interpolate(a, b, 0.5), shape_error);
    CHECK_THROWS_WITH(interpolate(a, b, 0.5), "shape error: interpolate: shapes [2, 3] and [3, 2] differ");
    CHECK_THROWS_AS(interpolate(a, a, std::nan("")), value_error);
    CHECK_THROWS_AS(interpolate(a, n, 0.5), value_error);

    xt::xtensor<float, 1> ones3 = xt::ones<float>({3}), ones2 = xt::ones<float>({2});
    batchnorm_stats bn{ones2, ones2, ones2, ones2, 1e-5};
    CHECK_THROWS_AS(fold_batchnorm(a, ones3, bn), shape_error);
    CHECK_THROWS_WITH(fold_batchnorm(a, ones3, bn),
                      "shape error: fold_batchnorm: bias has shape [3], expected [2] for a weight of shape [2, 3]");
    batchnorm_stats short_gamma{ones3, ones2, ones2, ones2, 1e-5};
    CHECK_THROWS_WITH(fold_batchnorm(a, ones2, short_gamma),
                      "shape error: fold_batchnorm: gamma has shape [3], expected [2] (one per output channel)");
    batchnorm_stats neg = bn;
    neg.running_var(1) = -1.0f;
    CHECK_THROWS_WITH(fold_batchnorm(a, ones2, neg), StartsWith("value error: fold_batchnorm: running_var has a negative value"));
    batchnorm_stats zero = bn;
    zero.running_var(0) = 0.0f;
    zero.eps = 0.0;
    CHECK_THROWS_WITH(fold_batchnorm(a, ones2, zero), "value error: fold_batchnorm: running_var + eps is 0 at (0)");
    batchnorm_stats nan_mean = bn;
    nan_mean.running_mean(0) = std::numeric_limits<float>::quiet_NaN();
    CHECK_THROWS_WITH(fold_batchnorm(a, ones2, nan_mean), Contains("'running_mean' has a non-finite value (NaN) at (0)"));
    CHECK_THROWS_AS(fold_batchnorm(n, ones2, bn), value_error);

    xt::xtensor<float, 2> w2 = xt::ones<float>({4, 5});
    CHECK_THROWS_AS(merge_linear(a, ones2, w2, ones2), shape_error);
    CHECK_THROWS_WITH(merge_linear(a, ones2, w2, ones2), Contains("do not chain"));
    CHECK_THROWS_AS(merge_linear(n, ones2, b, ones3), value_error);
}
