// prune.hpp: unstructured selection, amounts, criteria (magnitude, random, taylor, custom),
// previous masks, bad input.
#include <catch2/catch.hpp>

#include <cmath>
#include <limits>
#include <random>

#include <compress/prune.hpp>

#include "prune_test_util.hpp"

using namespace compress;
using prune_ref::flags;
using prune_ref::prune_lowest;

namespace {
template <class T, std::size_t N>
std::vector<double> abs_scores(const xt::xtensor<T, N>& w) {
    std::vector<double> s;
    for (auto v : w) s.push_back(std::abs(static_cast<double>(v)));
    return s;
}
}  // namespace

TEST_CASE("magnitude unstructured prunes the k smallest |w|, k = round-half-even(amount n)", "[prune]") {
    auto w = prune_ref::randn<float, 2>({37, 53}, 1);
    const std::size_t n = w.size();
    for (double a : {0.0, 0.01, 0.3, 0.5, 0.77, 0.9, 0.999, 1.0}) {
        const auto k = static_cast<std::size_t>(std::nearbyint(a * double(n)));
        auto m = compute_mask<magnitude>(w, a);
        CHECK(m.pruned() == k);
        CHECK(flags(m) == prune_lowest(abs_scores(w), k));
    }
    // Half-way counts round to even, as Python's round() in torch.nn.utils.prune.
    xt::xtensor<float, 2> small = prune_ref::randn<float, 2>({4, 6}, 2);
    CHECK(compute_mask<magnitude>(small, 0.1875).pruned() == 4);  // 4.5 -> 4
    CHECK(compute_mask<magnitude>(small, 0.3125).pruned() == 8);  // 7.5 -> 8
}

TEST_CASE("amount 0 keeps everything and amount 1 prunes everything, exactly", "[prune]") {
    auto w = prune_ref::randn<double, 3>({3, 4, 5}, 3);
    auto keep_all = compute_mask<magnitude>(w, 0.0);
    CHECK(keep_all.kept() == 60);
    auto none = compute_mask<magnitude>(w, 1.0);
    CHECK(none.kept() == 0);
    CHECK(none.sparsity() == 1.0);
    CHECK(compute_mask<magnitude, rows<l2>>(w, 1.0).kept() == 0);
    CHECK(compute_mask<magnitude, rows<l2>>(w, 0.0).kept() == 60);
}

TEST_CASE("ties are broken by index: the lower index is pruned first", "[prune]") {
    // Many equal magnitudes (integers in [-3, 3]), including +0 and -0.
    std::mt19937 rng(4);
    std::uniform_int_distribution<int> d(-3, 3);
    xt::xtensor<float, 2> w = xt::xtensor<float, 2>::from_shape({20, 30});
    for (auto& v : w) v = static_cast<float>(d(rng));
    w(0, 0) = -0.0f;
    for (double a : {0.1, 0.33, 0.5, 0.8}) {
        const auto k = static_cast<std::size_t>(std::nearbyint(a * 600));
        CHECK(flags(compute_mask<magnitude>(w, a)) == prune_lowest(abs_scores(w), k));
    }
    xt::xtensor<double, 1> same = {2.0, -2.0, 2.0, 2.0, -2.0};
    auto m = compute_mask<magnitude>(same, amount::count(2));
    CHECK(flags(m) == std::vector<std::uint8_t>{0, 0, 1, 1, 1});
}

TEST_CASE("a large tensor takes the radix path and agrees with a full sort", "[prune]") {
    auto w = prune_ref::randn<float, 2>({300, 700}, 5, 0.05);
    w(7, 7) = 0.0f;  // a few exact zeros and denormals
    w(8, 8) = 1e-40f;
    for (double a : {0.05, 0.9}) {
        const auto k = static_cast<std::size_t>(std::nearbyint(a * double(w.size())));
        CHECK(flags(compute_mask<magnitude>(w, a)) == prune_lowest(abs_scores(w), k));
    }
    xt::xtensor<double, 2> wd = w;
    CHECK(flags(compute_mask<magnitude>(wd, 0.6)) == prune_lowest(abs_scores(wd), 126000));
}

TEST_CASE("count and threshold amounts", "[prune]") {
    xt::xtensor<float, 2> w = {{0.5f, -0.1f, 0.05f, 2.0f}, {-3.0f, 0.2f, 0.01f, -0.4f}};
    auto c = compute_mask<magnitude>(w, amount::count(3));
    CHECK(flags(c) == std::vector<std::uint8_t>{1, 0, 0, 1, 1, 1, 0, 1});
    auto t = compute_mask<magnitude>(w, amount::threshold(0.3));  // |w| < 0.3
    CHECK(flags(t) == std::vector<std::uint8_t>{1, 0, 0, 1, 1, 0, 0, 1});
    auto t0 = compute_mask<magnitude>(w, amount::threshold(0.5));  // strict: 0.5 stays
    CHECK(t0(0, 0));
    CHECK(compute_mask<magnitude>(w, amount::count(0)).kept() == 8);
    CHECK(compute_mask<magnitude>(w, amount::count(8)).kept() == 0);
    CHECK(compute_mask<magnitude>(w, amount::threshold(std::numeric_limits<double>::infinity())).kept() == 0);
}

TEST_CASE("prune zeroes the pruned weights in place and returns the mask", "[prune]") {
    auto w = prune_ref::randn<float, 2>({10, 12}, 6);
    const xt::xtensor<float, 2> before = w;
    auto expected = compute_mask<magnitude>(w, 0.4);
    auto m = prune<magnitude>(w, 0.4);
    CHECK(m == expected);
    for (std::size_t i = 0; i < w.size(); ++i) {
        CHECK(w.data()[i] == (m[i] ? before.data()[i] : 0.0f));
    }
    pruner<magnitude, rows<l1>> p(0.5);
    auto w2 = before;
    auto m2 = p(w2);
    CHECK(m2 == compute_mask<magnitude, rows<l1>>(before, 0.5));
    CHECK(m2 == p.compute_mask(before));
    CHECK((w2 == m2.applied(before)));
}

TEST_CASE("compute_mask accepts expressions and views", "[prune]") {
    auto w = prune_ref::randn<float, 2>({8, 9}, 7);
    auto m = compute_mask<magnitude>(w * 3.0f, 0.5);
    CHECK(m == compute_mask<magnitude>(w, 0.5));
    xt::xtensor<float, 2> wt = xt::transpose(w);
    CHECK(compute_mask<magnitude>(xt::transpose(w), 0.5) == compute_mask<magnitude>(wt, 0.5));
}

TEST_CASE("already-pruned weights stay pruned and count towards the amount", "[prune]") {
    auto w = prune_ref::randn<float, 2>({20, 25}, 8);
    mask<2> prev({20, 25}, true);
    std::mt19937 rng(9);
    for (int j = 0; j < 150; ++j) prev.set(rng() % 500, false);
    const std::size_t already = prev.pruned();
    prune_context<float, 2> ctx;
    ctx.with_previous(prev);
    auto m = compute_mask<magnitude>(w, 0.5, ctx);
    CHECK(m.pruned() == 250);
    CHECK((m & prev) == m);  // nothing previously pruned comes back
    CHECK(flags(m) == prune_lowest(abs_scores(w), 250, flags(prev)));
    // Asking for less than is already pruned changes nothing.
    CHECK(already > 100);
    CHECK(compute_mask<magnitude>(w, 0.2, ctx) == prev);
    // The same holds for structured groupings: rows already empty count as pruned rows.
    mask<2> rowprev({20, 25}, true);
    for (std::size_t c = 0; c < 25; ++c) {
        rowprev.set(3 * 25 + c, false);
        rowprev.set(11 * 25 + c, false);
    }
    prune_context<float, 2> rctx;
    rctx.with_previous(rowprev);
    auto mr = compute_mask<magnitude, rows<l2>>(w, 0.25, rctx);  // 5 rows: 3, 11 and three more
    std::size_t empty_rows = 0;
    for (std::size_t r = 0; r < 20; ++r) {
        std::size_t kept = 0;
        for (std::size_t c = 0; c < 25; ++c) kept += mr(r, c) ? 1 : 0;
        CHECK((kept == 0 || kept == 25));
        empty_rows += kept == 0 ? 1 : 0;
    }
    CHECK(empty_rows == 5);
    CHECK_FALSE(mr(3, 0));
    CHECK_FALSE(mr(11, 24));
}

TEST_CASE("random criterion: seeded, exact counts, whole groups when structured", "[prune]") {
    auto w = prune_ref::randn<float, 2>({16, 16}, 10);
    prune_context<float, 2> a, b, c;
    a.with_seed(42);
    b.with_seed(42);
    c.with_seed(43);
    auto ma = compute_mask<compress::random>(w, 0.5, a);
    CHECK(ma.pruned() == 128);
    CHECK(ma == compute_mask<compress::random>(w, 0.5, b));
    CHECK(ma != compute_mask<compress::random>(w, 0.5, c));
    // Independent of the weights' values.
    xt::xtensor<float, 2> other = w * 0.0f + 1.0f;
    CHECK(ma == compute_mask<compress::random>(other, 0.5, a));
    auto mr = compute_mask<compress::random, rows<l2>>(w, 0.25, a);
    CHECK(mr.pruned() == 4 * 16);
    for (std::size_t r = 0; r < 16; ++r)
        for (std::size_t col = 1; col < 16; ++col) CHECK(mr(r, col) == mr(r, 0));
    // Roughly uniform: over many seeds each position is pruned about half the time.
    std::vector<int> hits(256, 0);
    for (std::uint64_t s = 0; s < 400; ++s) {
        prune_context<float, 2> cs;
        cs.with_seed(s);
        auto m = compute_mask<compress::random>(w, 0.5, cs);
        for (std::size_t i = 0; i < 256; ++i) hits[i] += m[i] ? 0 : 1;
    }
    for (int h : hits) CHECK((h > 130 && h < 270));
}

TEST_CASE("taylor criterion ranks |w * g| and needs a gradient of the same shape", "[prune]") {
    auto w = prune_ref::randn<double, 2>({9, 11}, 11);
    auto g = prune_ref::randn<double, 2>({9, 11}, 12);
    prune_context<double, 2> ctx;
    ctx.with_gradient(g);
    auto m = compute_mask<taylor>(w, 0.6, ctx);
    std::vector<double> s;
    for (std::size_t i = 0; i < w.size(); ++i) s.push_back(std::abs(w.data()[i] * g.data()[i]));
    CHECK(flags(m) == prune_lowest(s, 59));
    // rows<l1> of |w g|
    auto mr = compute_mask<taylor, rows<l1>>(w, amount::count(4), ctx);
    std::vector<double> rs(9, 0.0);
    for (std::size_t r = 0; r < 9; ++r)
        for (std::size_t c = 0; c < 11; ++c) rs[r] += std::abs(w(r, c) * g(r, c));
    auto rk = prune_lowest(rs, 4);
    for (std::size_t r = 0; r < 9; ++r) CHECK(mr(r, 5) == (rk[r] == 1));

    CHECK_THROWS_AS((compute_mask<taylor>(w, 0.5)), value_error);
    CHECK_THROWS_WITH((compute_mask<taylor>(w, 0.5)), Catch::Contains("taylor criterion needs a gradient"));
    xt::xtensor<double, 2> bad = xt::zeros<double>({9, 10});
    prune_context<double, 2> bctx;
    bctx.with_gradient(bad);
    CHECK_THROWS_AS((compute_mask<taylor>(w, 0.5, bctx)), shape_error);
    CHECK_THROWS_WITH((compute_mask<taylor>(w, 0.5, bctx)), Catch::Contains("gradient of shape [9, 10]"));
    g(2, 3) = std::numeric_limits<double>::quiet_NaN();
    CHECK_THROWS_AS((compute_mask<taylor>(w, 0.5, ctx)), value_error);
    CHECK_THROWS_WITH((compute_mask<taylor>(w, 0.5, ctx)), Catch::Contains("(2, 3)"));
}

namespace {
/// A user-defined criterion: magnitude relative to the mean magnitude of the weight's row.
struct row_relative {
    using policy_kind = compress::policy::criterion;
    template <class E, class Ctx>
    auto scores(const E& w, const Ctx&) const {
        auto a = xt::eval(xt::abs(w));
        auto mean = xt::eval(xt::mean(a, {1}, xt::keep_dims));
        return xt::eval(a / mean);
    }
};
struct wrong_shape_criterion {
    using policy_kind = compress::policy::criterion;
    template <class E, class Ctx>
    auto scores(const E& w, const Ctx&) const {
        return xt::xtensor<double, 2>(xt::zeros<double>({w.shape()[0] + 1, w.shape()[1]}));
    }
};
}  // namespace

TEST_CASE("a user-defined criterion is one struct with scores()", "[prune]") {
    xt::xtensor<float, 2> w = {{1.f, 2.f, 3.f, 6.f}, {10.f, 20.f, 30.f, 60.f}};
    // Relative scores are the same in both rows: 1/3, 2/3, 1, 2; the two smallest of each row go
    // (ties between rows broken by index: row 0 first).
    auto m = compute_mask<row_relative>(w, 0.5);
    CHECK(flags(m) == std::vector<std::uint8_t>{0, 0, 1, 1, 0, 0, 1, 1});
    auto mr = compute_mask<row_relative, rows<l1>>(w, amount::count(1));
    CHECK(flags(mr) == std::vector<std::uint8_t>{0, 0, 0, 0, 1, 1, 1, 1});  // equal norms: row 0 goes
    CHECK_THROWS_AS((compute_mask<wrong_shape_criterion>(w, 0.5)), shape_error);
}

TEST_CASE("bad amounts throw value_error", "[prune][errors]") {
    auto w = prune_ref::randn<float, 2>({4, 5}, 13);
    CHECK_THROWS_AS((compute_mask<magnitude>(w, -0.1)), value_error);
    CHECK_THROWS_WITH((compute_mask<magnitude>(w, -0.1)), Catch::Contains("amount must be a fraction in [0, 1]"));
    CHECK_THROWS_AS((compute_mask<magnitude>(w, 1.5)), value_error);
    CHECK_THROWS_WITH((compute_mask<magnitude>(w, 1.5)), Catch::Contains("got 1.5"));
    CHECK_THROWS_AS((compute_mask<magnitude>(w, std::nan(""))), value_error);
    CHECK_THROWS_AS((compute_mask<magnitude, rows<l2>>(w, std::nan(""))), value_error);
    CHECK_THROWS_AS((compute_mask<magnitude, columns<l2>>(w, 2.0)), value_error);
    CHECK_THROWS_AS((compute_mask<magnitude>(w, amount::count(21))), value_error);
    CHECK_THROWS_WITH((compute_mask<magnitude>(w, amount::count(21))), Catch::Contains("cannot prune 21 of 20"));
    CHECK_THROWS_AS((compute_mask<magnitude, rows<l1>>(w, amount::count(5))), value_error);
    CHECK_THROWS_AS((compute_mask<magnitude>(w, amount::threshold(std::nan("")))), value_error);
    CHECK_THROWS_WITH((compute_mask<magnitude>(w, amount::threshold(std::nan("")))), Catch::Contains("threshold must not be NaN"));
    // Bad amounts are rejected on empty tensors too.
    xt::xtensor<float, 2> empty = xt::xtensor<float, 2>::from_shape({0, 5});
    CHECK_THROWS_AS((compute_mask<magnitude>(empty, 1.01)), value_error);
}

TEST_CASE("NaN and Inf weights throw value_error naming the position", "[prune][errors]") {
    auto w = prune_ref::randn<float, 2>({4, 5}, 14);
    w(1, 2) = std::numeric_limits<float>::quiet_NaN();
    CHECK_THROWS_AS((compute_mask<magnitude>(w, 0.5)), value_error);
    CHECK_THROWS_WITH((compute_mask<magnitude>(w, 0.5)), Catch::Contains("NaN") && Catch::Contains("(1, 2)"));
    CHECK_THROWS_AS((prune<magnitude, rows<l2>>(w, 0.5)), value_error);
    w(1, 2) = 0.0f;
    w(3, 4) = -std::numeric_limits<float>::infinity();
    CHECK_THROWS_WITH((compute_mask<magnitude>(w, 0.5)), Catch::Contains("Inf") && Catch::Contains("(3, 4)"));
    prune_context<float, 2> named;
    named.with_name("fc1.weight");
    CHECK_THROWS_WITH((compute_mask<magnitude>(w, 0.5, named)), Catch::Contains("tensor 'fc1.weight'"));
    xt::xtensor<double, 4> c = xt::zeros<double>({2, 3, 2, 2});
    c(1, 2, 0, 1) = std::numeric_limits<double>::quiet_NaN();
    CHECK_THROWS_WITH((compute_mask<magnitude, columns<l1>>(c, 0.5)), Catch::Contains("(1, 2, 0, 1)"));
    // prune does not touch the weights when it throws.
    CHECK(c(0, 0, 0, 0) == 0.0);
}

TEST_CASE("a previous mask of another shape throws shape_error", "[prune][errors]") {
    auto w = prune_ref::randn<float, 2>({4, 5}, 15);
    mask<2> prev({5, 4});
    prune_context<float, 2> ctx;
    ctx.with_previous(prev);
    CHECK_THROWS_AS((compute_mask<magnitude>(w, 0.5, ctx)), shape_error);
    CHECK_THROWS_WITH((compute_mask<magnitude>(w, 0.5, ctx)), Catch::Contains("previous mask of shape [5, 4]"));
}

TEST_CASE("empty tensors give empty masks", "[prune]") {
    xt::xtensor<float, 2> e0 = xt::xtensor<float, 2>::from_shape({0, 5});
    auto m = compute_mask<magnitude>(e0, 0.5);
    CHECK(m.size() == 0);
    CHECK((m.shape() == std::array<std::size_t, 2>{0, 5}));
    CHECK(compute_mask<magnitude, rows<l2>>(e0, 0.5).size() == 0);
    CHECK(compute_mask<magnitude, columns<linf>>(e0, 1.0).size() == 0);
    CHECK(compute_mask<magnitude, n_of_m<2, 4>>(xt::xtensor<float, 2>::from_shape({0, 8})).size() == 0);
    CHECK(compute_mask<magnitude, blocks<2, 2>>(xt::xtensor<float, 2>::from_shape({4, 0}), 0.5).size() == 0);
    xt::xtensor<float, 1> e1 = xt::xtensor<float, 1>::from_shape({0});
    auto m1 = prune<magnitude>(e1, amount::count(0));
    CHECK(m1.empty());
    prune_context<float, 1> rc;
    rc.with_seed(1);
    CHECK(compute_mask<compress::random>(e1, 1.0, rc).empty());
}
