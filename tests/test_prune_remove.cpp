// prune.hpp: remove_neurons shrinks a layer pair and computes exactly what the masked pair does.
#include <catch2/catch.hpp>

#include <cmath>

#include <compress/prune.hpp>

#include "prune_test_util.hpp"

using namespace compress;

namespace {
using vec = std::vector<double>;

/// act(BN(conv_or_linear(x))) then the next layer, in plain loops (float math in double).
/// Linear: x [B, in] -> [B, out]. Conv: x [C, H, W] (batch 1), valid padding, stride 1.
template <class Act>
xt::xtensor<double, 2> forward_linear(const layer_pair<float, 2, 2>& p, const xt::xtensor<double, 2>& x, Act act) {
    const std::size_t B = x.shape()[0], in = x.shape()[1], out = p.weight.shape()[0], out2 = p.next_weight.shape()[0];
    xt::xtensor<double, 2> y = xt::zeros<double>({B, out2});
    for (std::size_t b = 0; b < B; ++b) {
        vec a(out);
        for (std::size_t j = 0; j < out; ++j) {
            double s = p.bias.size() ? p.bias(j) : 0.0;
            for (std::size_t i = 0; i < in; ++i) s += double(p.weight(j, i)) * x(b, i);
            if (p.norm) s = double(p.norm->gamma(j)) * (s - p.norm->running_mean(j)) / std::sqrt(double(p.norm->running_var(j)) + p.norm->eps) + p.norm->beta(j);
            a[j] = act(s);
        }
        for (std::size_t o = 0; o < out2; ++o) {
            double s = p.next_bias.size() ? p.next_bias(o) : 0.0;
            for (std::size_t j = 0; j < out; ++j) s += double(p.next_weight(o, j)) * a[j];
            y(b, o) = s;
        }
    }
    return y;
}

template <class W>
xt::xtensor<double, 3> conv_valid(const W& w, const xt::xtensor<float, 1>& bias, const xt::xtensor<double, 3>& x) {
    const std::size_t O = w.shape()[0], C = w.shape()[1], KH = w.shape()[2], KW = w.shape()[3];
    const std::size_t H = x.shape()[1] - KH + 1, Wd = x.shape()[2] - KW + 1;
    xt::xtensor<double, 3> y = xt::zeros<double>({O, H, Wd});
    for (std::size_t o = 0; o < O; ++o)
        for (std::size_t h = 0; h < H; ++h)
            for (std::size_t q = 0; q < Wd; ++q) {
                double s = bias.size() ? bias(o) : 0.0;
                for (std::size_t c = 0; c < C; ++c)
                    for (std::size_t i = 0; i < KH; ++i)
                        for (std::size_t j = 0; j < KW; ++j) s += double(w(o, c, i, j)) * x(c, h + i, q + j);
                y(o, h, q) = s;
            }
    return y;
}

template <class Act>
xt::xtensor<double, 3> first_conv(const xt::xtensor<float, 4>& w, const xt::xtensor<float, 1>& b,
                                  const std::optional<batch_norm_params<float>>& bn, const xt::xtensor<double, 3>& x, Act act) {
    auto y = conv_valid(w, b, x);
    for (std::size_t o = 0; o < y.shape()[0]; ++o)
        for (std::size_t h = 0; h < y.shape()[1]; ++h)
            for (std::size_t q = 0; q < y.shape()[2]; ++q) {
                double s = y(o, h, q);
                if (bn) s = double(bn->gamma(o)) * (s - bn->running_mean(o)) / std::sqrt(double(bn->running_var(o)) + bn->eps) + bn->beta(o);
                y(o, h, q) = act(s);
            }
    return y;
}

double relu(double v) { return v > 0 ? v : 0.0; }

template <class T>
xt::xtensor<T, 1> rvec(std::size_t n, unsigned seed, double scale, double shift) {
    auto v = prune_ref::randn<T, 1>({n}, seed, scale);
    v += static_cast<T>(shift);
    return v;
}

batch_norm_params<float> make_bn(std::size_t n, unsigned seed) {
    batch_norm_params<float> bn;
    bn.gamma = rvec<float>(n, seed, 0.3, 1.0);
    bn.beta = rvec<float>(n, seed + 1, 0.3, 0.2);
    bn.running_mean = rvec<float>(n, seed + 2, 0.2, 0.0);
    bn.running_var = xt::abs(rvec<float>(n, seed + 3, 0.3, 1.0));
    bn.eps = 1e-5;
    return bn;
}

double max_abs_diff(const xt::xtensor<double, 2>& a, const xt::xtensor<double, 2>& b) {
    REQUIRE(a.shape() == b.shape());
    double m = 0.0;
    for (std::size_t i = 0; i < a.size(); ++i) m = std::max(m, std::abs(a.data()[i] - b.data()[i]));
    return m;
}
}  // namespace

TEST_CASE("linear pair: the shrunk pair computes what the row-masked pair computes", "[prune][remove]") {
    layer_pair<float, 2, 2> p;
    p.weight = prune_ref::randn<float, 2>({8, 5}, 41);
    p.bias = rvec<float>(8, 42, 0.3, 0.4);  // mostly positive: removed neurons still fire
    p.norm = make_bn(8, 43);
    p.next_weight = prune_ref::randn<float, 2>({4, 8}, 47);
    p.next_bias = rvec<float>(4, 48, 0.1, 0.0);
    auto m = prune<magnitude, rows<l2>>(p.weight, 0.5);  // the masked pair: rows zeroed, bias kept
    const auto kept = kept_rows(m);
    REQUIRE(kept.size() == 4);
    auto x = prune_ref::randn<double, 2>({6, 5}, 49);
    auto shrunk = remove_neurons(p, m);
    CHECK(shrunk.weight.shape()[0] == 4);
    CHECK(shrunk.bias.size() == 4);
    CHECK(shrunk.norm->gamma.size() == 4);
    CHECK(shrunk.next_weight.shape()[1] == 4);
    for (std::size_t a = 0; a < 4; ++a) {
        CHECK(shrunk.bias(a) == p.bias(kept[a]));
        CHECK(shrunk.norm->running_var(a) == p.norm->running_var(kept[a]));
        CHECK(shrunk.next_weight(1, a) == p.next_weight(1, kept[a]));
    }
    CHECK(max_abs_diff(forward_linear(shrunk, x, relu), forward_linear(p, x, relu)) < 1e-5);
    // Without the bias fold the outputs would differ: the removed neurons' constants matter here.
    auto nofold = shrunk;
    nofold.next_bias = p.next_bias;
    CHECK(max_abs_diff(forward_linear(nofold, x, relu), forward_linear(p, x, relu)) > 1e-3);
    // Identity activation: negative constants are folded too.
    auto id = remove_neurons(p, m, identity_activation{});
    auto ident = [](double v) { return v; };
    CHECK(max_abs_diff(forward_linear(id, x, ident), forward_linear(p, x, ident)) < 1e-5);
    // No bias, no batch norm: nothing to fold, the next bias stays absent.
    layer_pair<float, 2, 2> q;
    q.weight = p.weight;
    q.next_weight = p.next_weight;
    auto qs = remove_neurons(q, m);
    CHECK(qs.next_bias.size() == 0);
    CHECK(max_abs_diff(forward_linear(qs, x, relu), forward_linear(q, x, relu)) < 1e-6);
}

TEST_CASE("keep lists: all kept is the identity, none kept leaves only the folded bias", "[prune][remove]") {
    layer_pair<float, 2, 2> p;
    p.weight = prune_ref::randn<float, 2>({3, 2}, 50);
    p.bias = xt::xtensor<float, 1>{1.f, -1.f, 2.f};
    p.next_weight = xt::xtensor<float, 2>{{1.f, 2.f, 3.f}, {-1.f, 0.f, 1.f}};
    auto all = remove_neurons(p, std::vector<bool>{true, true, true});
    CHECK((all.weight == p.weight));
    CHECK((all.next_weight == p.next_weight));
    CHECK(all.next_bias.size() == 0);
    auto none = remove_neurons(p, std::vector<bool>{false, false, false});
    CHECK(none.weight.shape()[0] == 0);
    CHECK(none.next_weight.shape()[1] == 0);
    // relu constants 1, 0, 2: next bias = W2[:,0]*1 + W2[:,2]*2 = {1+6, -1+2}
    CHECK((none.next_bias == xt::xtensor<float, 1>{7.f, 1.f}));
}

TEST_CASE("conv pair (no padding) and conv -> flatten -> linear", "[prune][remove]") {
    const std::size_t C = 2, F = 6, H = 7;
    xt::xtensor<float, 4> w1 = prune_ref::randn<float, 4>({F, C, 3, 3}, 51);
    xt::xtensor<float, 1> b1 = rvec<float>(F, 52, 0.3, 0.3);
    auto bn = make_bn(F, 53);
    auto x = prune_ref::randn<double, 3>({C, H, H}, 57);
    auto m = prune<magnitude, rows<l1>>(w1, amount::count(3));
    REQUIRE(kept_rows(m).size() == 3);

    // conv -> conv
    layer_pair<float, 4, 4> cc;
    cc.weight = w1;
    cc.bias = b1;
    cc.norm = bn;
    cc.next_weight = prune_ref::randn<float, 4>({4, F, 2, 2}, 58);
    cc.next_bias = rvec<float>(4, 59, 0.1, 0.0);
    auto s = remove_neurons(cc, m);
    CHECK(s.weight.shape()[0] == 3);
    CHECK(s.next_weight.shape()[1] == 3);
    auto ref = conv_valid(cc.next_weight, cc.next_bias, first_conv(cc.weight, cc.bias, cc.norm, x, relu));
    auto got = conv_valid(s.next_weight, s.next_bias, first_conv(s.weight, s.bias, s.norm, x, relu));
    REQUIRE(ref.shape() == got.shape());
    double d = 0.0;
    for (std::size_t i = 0; i < ref.size(); ++i) d = std::max(d, std::abs(ref.data()[i] - got.data()[i]));
    CHECK(d < 1e-5);

    // conv -> flatten -> linear: the first conv's output is [F, 5, 5] -> 150 inputs.
    layer_pair<float, 4, 2> cl;
    cl.weight = w1;
    cl.bias = b1;
    cl.norm = bn;
    cl.next_weight = prune_ref::randn<float, 2>({5, F * 25}, 60);
    auto sl = remove_neurons(cl, m);
    CHECK(sl.next_weight.shape()[1] == 3 * 25);
    auto flat_lin = [](const xt::xtensor<float, 2>& w, const xt::xtensor<float, 1>& b, const xt::xtensor<double, 3>& a) {
        vec y(w.shape()[0]);
        for (std::size_t o = 0; o < y.size(); ++o) {
            double s2 = b.size() ? b(o) : 0.0;
            for (std::size_t i = 0; i < a.size(); ++i) s2 += double(w(o, i)) * a.data()[i];
            y[o] = s2;
        }
        return y;
    };
    auto yr = flat_lin(cl.next_weight, cl.next_bias, first_conv(cl.weight, cl.bias, cl.norm, x, relu));
    auto yg = flat_lin(sl.next_weight, sl.next_bias, first_conv(sl.weight, sl.bias, sl.norm, x, relu));
    for (std::size_t o = 0; o < yr.size(); ++o) CHECK(yg[o] == Approx(yr[o]).margin(1e-5));
}

TEST_CASE("remove_neurons bad input", "[prune][remove][errors]") {
    layer_pair<float, 2, 2> p;
    p.weight = prune_ref::randn<float, 2>({4, 3}, 61);
    p.bias = xt::zeros<float>({4});
    p.next_weight = prune_ref::randn<float, 2>({2, 4}, 62);
    const std::vector<bool> keep{true, false, true, true};
    CHECK_THROWS_AS(remove_neurons(p, std::vector<bool>{true, false}), shape_error);
    CHECK_THROWS_WITH(remove_neurons(p, std::vector<bool>{true, false}), Catch::Contains("2 entries for a layer of 4 neurons"));
    auto bad = p;
    bad.bias = xt::zeros<float>({5});
    CHECK_THROWS_AS(remove_neurons(bad, keep), shape_error);
    bad = p;
    bad.next_weight = prune_ref::randn<float, 2>({2, 5}, 63);
    CHECK_THROWS_WITH(remove_neurons(bad, keep), Catch::Contains("does not take 4 inputs"));
    bad = p;
    bad.next_bias = xt::zeros<float>({3});
    CHECK_THROWS_AS(remove_neurons(bad, keep), shape_error);
    bad = p;
    bad.norm = make_bn(3, 64);
    CHECK_THROWS_AS(remove_neurons(bad, keep), shape_error);
    bad = p;
    bad.norm = make_bn(4, 65);
    bad.norm->running_var(2) = -1.0f;
    CHECK_THROWS_AS(remove_neurons(bad, keep), value_error);
    CHECK_THROWS_WITH(remove_neurons(bad, keep), Catch::Contains("running_var + eps must be > 0") && Catch::Contains("(2)"));
    bad = p;
    bad.weight(1, 2) = std::nanf("");
    CHECK_THROWS_AS(remove_neurons(bad, keep), value_error);
    CHECK_THROWS_AS(remove_neurons(p, mask<2>({4, 4})), shape_error);
    layer_pair<float, 4, 2> cl;
    cl.weight = xt::zeros<float>({4, 1, 1, 1});
    cl.next_weight = xt::zeros<float>({2, 10});  // 10 is not 4 * H * W
    CHECK_THROWS_WITH(remove_neurons(cl, keep), Catch::Contains("conv -> flatten -> linear"));
}
