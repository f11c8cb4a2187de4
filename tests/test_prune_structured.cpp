// prune.hpp: rows / columns / blocks / n_of_m groupings on linear and conv weights, activation
// criteria, and their bad input.
#include <catch2/catch.hpp>

#include <cmath>

#include <compress/prune.hpp>

#include "prune_test_util.hpp"

using namespace compress;
using prune_ref::flags;
using prune_ref::prune_lowest;

namespace {
/// Reference group norms along `dim` of a rank-N tensor (plain loops over the multi-index).
template <class T, std::size_t N>
std::vector<double> ref_norms(const xt::xtensor<T, N>& w, std::size_t dim, int p /* 1, 2, 0 = inf */) {
    std::vector<double> acc(w.shape()[dim], 0.0);
    std::array<std::size_t, N> idx{};
    for (std::size_t i = 0; i < w.size(); ++i) {
        std::size_t r = i;
        for (std::size_t d = N; d-- > 0;) {
            idx[d] = r % w.shape()[d];
            r /= w.shape()[d];
        }
        const double v = std::abs(static_cast<double>(w.data()[i]));
        auto& a = acc[idx[dim]];
        a = p == 1 ? a + v : p == 2 ? a + v * v : std::max(a, v);
    }
    if (p == 2)
        for (auto& a : acc) a = std::sqrt(a);
    return acc;
}

/// Keep flags of group g along dim, expanded to the tensor.
template <std::size_t N>
std::vector<std::uint8_t> expand(const std::array<std::size_t, N>& shape, std::size_t dim,
                                 const std::vector<std::uint8_t>& gkeep) {
    std::size_t n = 1;
    for (auto d : shape) n *= d;
    std::vector<std::uint8_t> out(n);
    for (std::size_t i = 0; i < n; ++i) {
        std::size_t r = i, id = 0;
        for (std::size_t d = N; d-- > 0;) {
            if (d == dim) id = r % shape[d];
            r /= shape[d];
        }
        out[i] = gkeep[id];
    }
    return out;
}

template <class G, class T, std::size_t N>
void check_structured(const xt::xtensor<T, N>& w, std::size_t dim, int p, double a) {
    const std::size_t groups = w.shape()[dim];
    const auto k = static_cast<std::size_t>(std::nearbyint(a * double(groups)));
    auto m = compute_mask<magnitude, G>(w, a);
    auto expected = expand<N>(m.shape(), dim, prune_lowest(ref_norms(w, dim, p), k));
    CHECK(flags(m) == expected);
}
}  // namespace

TEST_CASE("rows and columns: a hand-computed 3x4 example", "[prune][structured]") {
    xt::xtensor<float, 2> w = {{1.f, -1.f, 1.f, -1.f},   // l1 4, l2 2, linf 1
                               {3.f, 0.f, 0.f, 0.f},     // l1 3, l2 3, linf 3
                               {0.5f, 0.5f, 0.5f, 2.f}}; // l1 3.5, l2 sqrt(4.75)=2.18, linf 2
    // One row pruned: the lowest norm.
    CHECK(flags(compute_mask<magnitude, rows<l1>>(w, amount::count(1))) ==
          std::vector<std::uint8_t>{1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 1, 1});
    CHECK(flags(compute_mask<magnitude, rows<l2>>(w, amount::count(1))) ==
          std::vector<std::uint8_t>{0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1});
    CHECK(flags(compute_mask<magnitude, rows<linf>>(w, amount::count(1))) ==
          std::vector<std::uint8_t>{0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1});
    // Columns: l1 = 4.5, 1.5, 1.5, 3 -> prune 2 of 4 (0.5): columns 1 and 2 (tie by index).
    CHECK(flags(compute_mask<magnitude, columns<l1>>(w, 0.5)) ==
          std::vector<std::uint8_t>{1, 0, 0, 1, 1, 0, 0, 1, 1, 0, 0, 1});
    // linf: 3, 1, 1, 2 -> prune 3 of 4 (0.75): columns 1, 2, 3.
    CHECK(flags(compute_mask<magnitude, columns<linf>>(w, 0.75)) ==
          std::vector<std::uint8_t>{1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0});
    // Threshold on the group score: l2 rows below 2.1 -> row 0 (2.0) only.
    CHECK(flags(compute_mask<magnitude, rows<l2>>(w, amount::threshold(2.1))) ==
          std::vector<std::uint8_t>{0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1});
}

TEST_CASE("rows and columns agree with reference norms on linear and conv weights", "[prune][structured]") {
    auto lin = prune_ref::randn<float, 2>({23, 17}, 21);
    auto conv = prune_ref::randn<double, 4>({12, 7, 3, 3}, 22);
    auto t3 = prune_ref::randn<float, 3>({6, 5, 4}, 23);
    for (double a : {0.0, 0.2, 0.5, 0.71, 1.0}) {
        check_structured<rows<l1>>(lin, 0, 1, a);
        check_structured<rows<l2>>(lin, 0, 2, a);
        check_structured<rows<linf>>(lin, 0, 0, a);
        check_structured<columns<l1>>(lin, 1, 1, a);
        check_structured<columns<l2>>(lin, 1, 2, a);
        check_structured<columns<linf>>(lin, 1, 0, a);
        check_structured<rows<l1>>(conv, 0, 1, a);
        check_structured<rows<l2>>(conv, 0, 2, a);
        check_structured<rows<linf>>(conv, 0, 0, a);
        check_structured<columns<l1>>(conv, 1, 1, a);
        check_structured<columns<l2>>(conv, 1, 2, a);
        check_structured<columns<linf>>(conv, 1, 0, a);
        check_structured<columns<l2>>(t3, 1, 2, a);
    }
}

TEST_CASE("blocks<R,C> prunes whole tiles of the [out, in*kh*kw] matrix", "[prune][structured]") {
    xt::xtensor<float, 2> w = {{1.f, 1.f, 5.f, 5.f, 0.1f, 0.1f},
                               {1.f, 1.f, 5.f, 5.f, 0.1f, 0.1f},
                               {9.f, 9.f, 0.2f, 0.2f, 3.f, 3.f},
                               {9.f, 9.f, 0.2f, 0.2f, 3.f, 3.f}};
    // l1 tile scores: [4, 20, 0.4; 36, 0.8, 12]; prune half (3 tiles): 0.4, 0.8, 4.
    auto m = compute_mask<magnitude, blocks<2, 2>>(w, 0.5);
    const std::vector<std::uint8_t> expected{0, 0, 1, 1, 0, 0, 0, 0, 1, 1, 0, 0,
                                             1, 1, 0, 0, 1, 1, 1, 1, 0, 0, 1, 1};
    CHECK(flags(m) == expected);
    // Non-square tiles, rows of 1 x 3: [1,1,5]=7, [5,.1,.1]=5.2, [9,9,.2]=18.2, [.2,3,3]=6.2 per row pair.
    auto m13 = compute_mask<magnitude, blocks<1, 3>>(w, amount::count(2));
    CHECK(flags(m13) == std::vector<std::uint8_t>{1, 1, 1, 0, 0, 0, 1, 1, 1, 0, 0, 0,
                                                  1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1});
    // Conv weights: tiles over [out, in*kh*kw] = [4, 2*2*2].
    auto conv = prune_ref::randn<float, 4>({4, 2, 2, 2}, 24);
    auto mc = compute_mask<magnitude, blocks<2, 4, l2>>(conv, 0.5);
    CHECK(mc.pruned() == 16);
    for (std::size_t br = 0; br < 2; ++br)
        for (std::size_t bc = 0; bc < 2; ++bc) {
            const bool k0 = mc[(br * 2) * 8 + bc * 4];
            for (std::size_t r = 0; r < 2; ++r)
                for (std::size_t c = 0; c < 4; ++c) CHECK(mc[(br * 2 + r) * 8 + bc * 4 + c] == k0);
        }
}

TEST_CASE("blocks<R,C> on extents that are not multiples throws shape_error", "[prune][structured][errors]") {
    xt::xtensor<float, 2> w = xt::ones<float>({6, 10});
    CHECK_THROWS_AS((compute_mask<magnitude, blocks<4, 2>>(w, 0.5)), shape_error);
    CHECK_THROWS_WITH((compute_mask<magnitude, blocks<4, 2>>(w, 0.5)), Catch::Contains("blocks<4,2>") && Catch::Contains("[6, 10]"));
    CHECK_THROWS_AS((compute_mask<magnitude, blocks<2, 4>>(w, 0.5)), shape_error);
}

TEST_CASE("n_of_m<N,M> keeps exactly the N largest of every M consecutive inputs", "[prune][structured]") {
    auto w = prune_ref::randn<float, 2>({9, 16}, 25);
    auto m = compute_mask<magnitude, n_of_m<2, 4>>(w);
    CHECK(m == compute_mask<magnitude, n_of_m<2, 4>>(w, 0.5));
    CHECK(m.sparsity() == 0.5);
    for (std::size_t r = 0; r < 9; ++r) {
        for (std::size_t b = 0; b < 16; b += 4) {
            std::vector<double> s;
            for (std::size_t j = 0; j < 4; ++j) s.push_back(std::abs(w(r, b + j)));
            auto keep = prune_lowest(s, 2);
            for (std::size_t j = 0; j < 4; ++j) CHECK(m(r, b + j) == (keep[j] == 1));
        }
    }
    // 1 of 8, conv weight [4, 2, 2, 2]: runs of 8 over the flattened in*kh*kw axis.
    auto conv = prune_ref::randn<double, 4>({4, 2, 2, 2}, 26);
    auto mc = compute_mask<magnitude, n_of_m<1, 8>>(conv);
    for (std::size_t o = 0; o < 4; ++o) {
        std::size_t kept = 0, best = 0;
        for (std::size_t j = 0; j < 8; ++j) {
            kept += mc[o * 8 + j] ? 1 : 0;
            if (std::abs(conv.data()[o * 8 + j]) > std::abs(conv.data()[o * 8 + best])) best = j;
        }
        CHECK(kept == 1);
        CHECK(mc[o * 8 + best]);
    }
    // Ties: equal magnitudes in a run, the lower index is pruned first.
    xt::xtensor<float, 2> tie = {{1.f, -1.f, 1.f, 1.f, 0.f, 2.f, 0.f, 2.f}};
    CHECK(flags(compute_mask<magnitude, n_of_m<2, 4>>(tie)) == std::vector<std::uint8_t>{0, 0, 1, 1, 0, 1, 0, 1});
    // Random criterion: still exactly N per run.
    prune_context<float, 2> rc;
    rc.with_seed(3);
    auto mr = compute_mask<compress::random, n_of_m<3, 4>>(w, 0.25, rc);
    for (std::size_t i = 0; i < w.size(); i += 4) CHECK((mr[i] + mr[i + 1] + mr[i + 2] + mr[i + 3]) == 3);
}

TEST_CASE("n_of_m with a previous mask keeps already-pruned weights pruned", "[prune][structured]") {
    xt::xtensor<float, 2> w = {{4.f, 3.f, 2.f, 1.f, 4.f, 3.f, 2.f, 1.f}};
    mask<2> prev({1, 8}, true);
    prev.set(0, false);  // the largest of run 0 was pruned before
    prev.set(4, false);
    prev.set(5, false);  // run 1 already has 2 pruned
    prune_context<float, 2> ctx;
    ctx.with_previous(prev);
    auto m = compute_mask<magnitude, n_of_m<2, 4>>(w, 0.5, ctx);
    CHECK(flags(m) == std::vector<std::uint8_t>{0, 1, 1, 0, 0, 0, 1, 1});
}

TEST_CASE("n_of_m bad input: indivisible input extent, a different amount", "[prune][structured][errors]") {
    xt::xtensor<float, 2> w = xt::ones<float>({3, 10});
    CHECK_THROWS_AS((compute_mask<magnitude, n_of_m<2, 4>>(w)), shape_error);
    CHECK_THROWS_WITH((compute_mask<magnitude, n_of_m<2, 4>>(w)),
                      Catch::Contains("n_of_m<2,4>") && Catch::Contains("multiple of 4") && Catch::Contains("10"));
    xt::xtensor<float, 4> conv = xt::ones<float>({2, 3, 1, 1});
    CHECK_THROWS_AS((compute_mask<magnitude, n_of_m<2, 4>>(conv)), shape_error);
    xt::xtensor<float, 2> ok = xt::ones<float>({3, 8});
    CHECK_THROWS_AS((compute_mask<magnitude, n_of_m<2, 4>>(ok, 0.9)), value_error);
    CHECK_THROWS_WITH((compute_mask<magnitude, n_of_m<2, 4>>(ok, 0.9)), Catch::Contains("prunes exactly 0.5"));
    CHECK_THROWS_AS((compute_mask<magnitude, n_of_m<2, 4>>(ok, amount::count(12))), value_error);
}

TEST_CASE("activation_stats: mean, std, APoZ and entropy by hand", "[prune][activation]") {
    activation_stats st(2);
    // 4 samples x 3 neurons, in two batches.
    st.record(xt::xtensor<float, 2>{{1.f, 0.f, 5.f}, {3.f, 0.f, 5.f}});
    st.record(xt::xtensor<double, 2>{{5.f, 2.f, 5.f}, {7.f, -1.f, 5.f}});
    CHECK(st.samples() == 4);
    CHECK(st.neurons() == 3);
    auto mean = st.mean();
    CHECK(mean(0) == Approx(4.0));
    CHECK(mean(1) == Approx(0.25));
    CHECK(mean(2) == Approx(5.0));
    auto sd = st.stddev();
    CHECK(sd(0) == Approx(std::sqrt(5.0)));  // population std of 1, 3, 5, 7
    CHECK(sd(1) == Approx(std::sqrt((0.0625 + 0.0625 + 3.0625 + 1.5625) / 4.0)));
    CHECK(sd(2) == Approx(0.0).margin(1e-12));
    auto z = st.apoz();
    CHECK(z(0) == 0.0);
    CHECK(z(1) == 0.75);  // 0, 0, -1 are <= 0
    CHECK(z(2) == 0.0);
    auto h = st.entropy();  // 2 bins between min and max
    CHECK(h(0) == Approx(std::log(2.0)));                                     // {1,3} | {5,7}
    CHECK(h(1) == Approx(-(0.75 * std::log(0.75) + 0.25 * std::log(0.25))));  // {0,0,-1} | {2}
    CHECK(h(2) == 0.0);                                                       // constant
    // Conv activations: channel statistics over batch x H x W; entropy over per-sample means.
    activation_stats cs(4);
    xt::xtensor<float, 4> a = xt::zeros<float>({2, 2, 1, 2});
    a(0, 0, 0, 0) = 2.f;  // channel 0: values 2, 0 | 4, 4
    a(1, 0, 0, 0) = 4.f;
    a(1, 0, 0, 1) = 4.f;
    cs.record(a);
    CHECK(cs.mean()(0) == Approx(2.5));
    CHECK(cs.apoz()(0) == 0.25);
    CHECK(cs.apoz()(1) == 1.0);
}

TEST_CASE("activation criteria prune the neurons their statistic ranks lowest", "[prune][activation]") {
    activation_stats st;
    std::mt19937 rng(27);
    std::normal_distribution<double> nd;
    for (int b = 0; b < 5; ++b) {
        xt::xtensor<float, 2> a = xt::xtensor<float, 2>::from_shape({16, 6});
        for (std::size_t i = 0; i < 16; ++i)
            for (std::size_t u = 0; u < 6; ++u) a(i, u) = static_cast<float>(std::max(0.0, nd(rng) * double(u + 1) + 0.3 * double(u % 3)));
        st.record(a);
    }
    auto w = prune_ref::randn<float, 2>({6, 10}, 28);
    prune_context<float, 2> ctx;
    ctx.with_activations(st);
    auto check = [&](auto crit, const xt::xtensor<double, 1>& score) {
        using C = decltype(crit);
        auto m = compute_mask<C, rows<l2>>(w, 0.5, ctx);
        auto keep = prune_lowest(std::vector<double>(score.begin(), score.end()), 3);
        for (std::size_t r = 0; r < 6; ++r)
            for (std::size_t c = 0; c < 10; ++c) CHECK(m(r, c) == (keep[r] == 1));
    };
    check(activation_mean{}, st.mean());
    check(activation_std{}, st.stddev());
    check(apoz{}, 1.0 - st.apoz());
    check(activation_entropy{}, st.entropy());
    // columns<>: statistics of the layer's inputs.
    auto w2 = prune_ref::randn<float, 2>({4, 6}, 29);
    auto mc = compute_mask<apoz, columns<l1>>(w2, amount::count(2), ctx);
    auto keep = prune_lowest(std::vector<double>((1.0 - st.apoz()).begin(), (1.0 - st.apoz()).end()), 2);
    for (std::size_t c = 0; c < 6; ++c) CHECK(mc(0, c) == (keep[c] == 1));
}

TEST_CASE("activation criteria bad input", "[prune][activation][errors]") {
    activation_stats st;
    st.record(xt::xtensor<float, 2>(xt::ones<float>({4, 5})));
    auto w = prune_ref::randn<float, 2>({6, 10}, 30);
    prune_context<float, 2> ctx;
    ctx.with_activations(st);
    CHECK_THROWS_AS((compute_mask<activation_mean, rows<l2>>(w, 0.5, ctx)), shape_error);
    CHECK_THROWS_WITH((compute_mask<activation_mean, rows<l2>>(w, 0.5, ctx)),
                      Catch::Contains("5 neurons") && Catch::Contains("6 rows"));
    CHECK_THROWS_AS((compute_mask<apoz, columns<l2>>(w, 0.5, ctx)), shape_error);
    CHECK_THROWS_AS((compute_mask<apoz, rows<l2>>(w, 0.5)), value_error);
    CHECK_THROWS_WITH((compute_mask<apoz, rows<l2>>(w, 0.5)), Catch::Contains("need activation statistics"));
    activation_stats empty;
    prune_context<float, 2> ectx;
    ectx.with_activations(empty);
    CHECK_THROWS_AS((compute_mask<apoz, rows<l2>>(w, 0.5, ectx)), value_error);
    // record(): wrong rank, neuron count changing between batches, NaN.
    CHECK_THROWS_AS(st.record(xt::xtensor<float, 1>{1.f, 2.f}), shape_error);
    CHECK_THROWS_AS(st.record(xt::xtensor<float, 3>(xt::ones<float>({1, 5, 2}))), shape_error);
    CHECK_THROWS_AS(st.record(xt::xtensor<float, 2>(xt::ones<float>({4, 6}))), shape_error);
    CHECK_THROWS_WITH(st.record(xt::xtensor<float, 2>(xt::ones<float>({4, 6}))), Catch::Contains("6 neurons") && Catch::Contains("had 5"));
    xt::xtensor<float, 2> bad = xt::ones<float>({2, 5});
    bad(1, 3) = std::nanf("");
    CHECK_THROWS_AS(st.record(bad), value_error);
    CHECK_THROWS_WITH(st.record(bad), Catch::Contains("(1, 3)"));
    CHECK_THROWS_AS(activation_stats(0), value_error);
}
