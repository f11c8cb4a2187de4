// prune.hpp: schedules, mask-in-the-loop helpers, scheduled and dynamic pruning, sparsity
// reports, global pruning with contexts.
#include <catch2/catch.hpp>

#include <cmath>
#include <limits>

#include <compress/prune.hpp>

#include "prune_test_util.hpp"

using namespace compress;
using prune_ref::flags;
using prune_ref::prune_lowest;

TEST_CASE("constant_sparsity: the target on update steps only", "[prune][schedule]") {
    constant_sparsity c(0.5);
    CHECK(c.sparsity_at(0) == 0.5);
    CHECK_FALSE(c.sparsity_at(50).has_value());
    CHECK(c.sparsity_at(100) == 0.5);
    CHECK(c.sparsity_at(100000) == 0.5);
    constant_sparsity w(0.8, 10, 310, 100);
    CHECK_FALSE(w.sparsity_at(0).has_value());
    CHECK(w.sparsity_at(10) == 0.8);
    CHECK(w.sparsity_at(310) == 0.8);
    CHECK_FALSE(w.sparsity_at(410).has_value());
    CHECK_FALSE(w.sparsity_at(110 + 1).has_value());
}

TEST_CASE("polynomial_decay follows Zhu & Gupta / TFMOT", "[prune][schedule]") {
    polynomial_decay p(0.0, 0.9, 0, 1000, 3.0, 100);
    CHECK(*p.sparsity_at(0) == Approx(0.0));
    CHECK(*p.sparsity_at(100) == Approx(0.9 - 0.9 * 0.729));  // (1 - 0.1)^3
    CHECK(*p.sparsity_at(500) == Approx(0.9 - 0.9 * 0.125));
    CHECK(*p.sparsity_at(1000) == Approx(0.9));
    CHECK_FALSE(p.sparsity_at(1100).has_value());  // after end_step: no more updates
    CHECK_FALSE(p.sparsity_at(150).has_value());
    CHECK(p.sparsity(2000) == Approx(0.9));  // the curve itself is clamped
    polynomial_decay q(0.2, 0.8, 100, 300, 1.0, 50);  // linear, from step 100
    CHECK_FALSE(q.sparsity_at(0).has_value());
    CHECK(*q.sparsity_at(100) == Approx(0.2));
    CHECK(*q.sparsity_at(200) == Approx(0.5));
    CHECK(*q.sparsity_at(250) == Approx(0.65));
    // Monotone between begin and end.
    double last = -1.0;
    for (std::int64_t s = 0; s <= 1000; s += 100) {
        const double v = *p.sparsity_at(s);
        CHECK(v >= last);
        last = v;
    }
}

TEST_CASE("iterative: geometric rounds", "[prune][schedule]") {
    iterative it(0.9, 3, 100);
    CHECK(*it.sparsity_at(0) == Approx(1.0 - std::pow(0.1, 1.0 / 3.0)));
    CHECK(*it.sparsity_at(100) == Approx(1.0 - std::pow(0.1, 2.0 / 3.0)));
    CHECK(*it.sparsity_at(200) == 0.9);
    CHECK_FALSE(it.sparsity_at(300).has_value());
    CHECK_FALSE(it.sparsity_at(50).has_value());
    // 20% of what is left, five rounds of 10 steps starting at step 5.
    auto r = iterative::from_rate(0.2, 5, 10, 5);
    CHECK_FALSE(r.sparsity_at(0).has_value());
    for (int k = 0; k < 5; ++k) CHECK(*r.sparsity_at(5 + 10 * k) == Approx(1.0 - std::pow(0.8, k + 1)));
    CHECK(r.rounds() == 5);
}

TEST_CASE("schedules reject bad parameters with value_error", "[prune][schedule][errors]") {
    CHECK_THROWS_AS(constant_sparsity(1.5), value_error);
    CHECK_THROWS_WITH(constant_sparsity(-0.1), Catch::Contains("target must be a fraction in [0, 1]"));
    CHECK_THROWS_AS(constant_sparsity(std::nan("")), value_error);
    CHECK_THROWS_AS(constant_sparsity(0.5, 0, -1, 0), value_error);
    CHECK_THROWS_WITH(constant_sparsity(0.5, 0, -1, 0), Catch::Contains("frequency must be > 0"));
    CHECK_THROWS_AS(constant_sparsity(0.5, 10, 5), value_error);
    CHECK_THROWS_AS(constant_sparsity(0.5, -1), value_error);
    CHECK_THROWS_AS(polynomial_decay(0.0, 0.9, 100, 100), value_error);
    CHECK_THROWS_WITH(polynomial_decay(0.0, 0.9, 100, 100), Catch::Contains("end_step 100 must be > begin_step 100"));
    CHECK_THROWS_AS(polynomial_decay(0.0, 1.1, 0, 100), value_error);
    CHECK_THROWS_AS(polynomial_decay(0.0, 0.9, 0, 100, 0.0), value_error);
    CHECK_THROWS_AS(polynomial_decay(0.0, 0.9, 0, 100, 3.0, -5), value_error);
    CHECK_THROWS_AS(iterative(0.9, 0, 10), value_error);
    CHECK_THROWS_WITH(iterative(0.9, 0, 10), Catch::Contains("rounds must be > 0"));
    CHECK_THROWS_AS(iterative(0.9, 3, 0), value_error);
    CHECK_THROWS_AS(iterative(2.0, 3, 10), value_error);
    CHECK_THROWS_AS(iterative::from_rate(-0.2, 3, 10), value_error);
}

TEST_CASE("gradual pruning in a training loop reaches the schedule's sparsity monotonically", "[prune][schedule]") {
    auto w = prune_ref::randn<float, 2>({40, 50}, 31);
    scheduled_pruner<polynomial_decay> sp(polynomial_decay(0.0, 0.9, 0, 1000, 3.0, 100));
    mask<2> m({40, 50});
    std::mt19937 rng(32);
    std::normal_distribution<float> nd(0.f, 0.01f);
    int updates = 0;
    for (std::int64_t step = 0; step <= 1200; step += 10) {
        const mask<2> before = m;
        const bool updated = sp.update(step, w, m);
        CHECK(updated == sp.schedule().sparsity_at(step).has_value());
        if (updated) {
            ++updates;
            const double target = *sp.schedule().sparsity_at(step);
            CHECK(m.pruned() == static_cast<std::size_t>(std::nearbyint(target * 2000)));
            CHECK((m & before) == m);  // nothing comes back
        }
        // A fake optimizer step: every weight moves, the gradient is masked, the mask re-applied.
        xt::xtensor<float, 2> grad = xt::xtensor<float, 2>::from_shape({40, 50});
        for (auto& g : grad) g = nd(rng);
        mask_gradient(grad, m);
        std::size_t leaks = 0;
        for (std::size_t i = 0; i < w.size(); ++i) leaks += (!m[i] && grad.data()[i] != 0.0f) ? 1 : 0;
        w -= grad;
        w *= 0.999f;  // weight decay
        apply_mask(w, m);
        for (std::size_t i = 0; i < w.size(); ++i) leaks += (!m[i] && w.data()[i] != 0.0f) ? 1 : 0;
        CHECK(leaks == 0);
    }
    CHECK(updates == 11);  // steps 0, 100, ..., 1000
    CHECK(m.sparsity() == Approx(0.9));
    // A mask of the wrong shape.
    mask<2> bad({50, 40});
    CHECK_THROWS_AS(sp.update(0, w, bad), shape_error);
    // Structured gradual pruning with a context (taylor needs the gradient).
    scheduled_pruner<iterative, taylor, rows<l1>> rp(iterative(0.5, 2, 10));
    auto w2 = prune_ref::randn<double, 2>({8, 6}, 33);
    auto g2 = prune_ref::randn<double, 2>({8, 6}, 34);
    mask<2> m2({8, 6});
    prune_context<double, 2> ctx;
    ctx.with_gradient(g2);
    CHECK(rp.update(0, w2, m2, ctx));
    CHECK(kept_rows(m2).size() == 8 - static_cast<std::size_t>(std::nearbyint((1.0 - std::sqrt(0.5)) * 8)));
    CHECK(rp.update(10, w2, m2, ctx));
    CHECK(kept_rows(m2).size() == 4);
}

TEST_CASE("dynamic pruning: pruned weights grow back when their magnitude recovers", "[prune][dynamic]") {
    xt::xtensor<float, 1> w = {0.1f, 0.2f, 0.3f, 0.4f, 0.5f, 0.6f, 0.7f, 0.8f, 0.9f, 1.0f};
    dynamic_pruner<magnitude, unstructured, 1> dp(0.1);
    CHECK_FALSE(dp.has_mask());
    CHECK_THROWS_AS(dp.current(), value_error);
    auto m0 = dp.update(w, 0.5);  // first update: plain prune of the 5 smallest
    CHECK(flags(m0) == std::vector<std::uint8_t>{0, 0, 0, 0, 0, 1, 1, 1, 1, 1});
    CHECK((dp.masked(w) == xt::xtensor<float, 1>{0.f, 0.f, 0.f, 0.f, 0.f, 0.6f, 0.7f, 0.8f, 0.9f, 1.0f}));
    // Training moved the dense weights: a pruned one grew large, a kept one shrank.
    w(1) = 2.0f;   // pruned -> far above the band: grows back
    w(9) = 0.05f;  // kept -> far below: pruned
    // The 5th smallest is now 0.5 (0.05, 0.1, 0.3, 0.4, 0.5): band [0.45, 0.55].
    w(5) = 0.54f;  // kept, moves inside the band: stays kept
    w(4) = 0.5f;   // pruned, at t: stays pruned
    const auto& m1 = dp.update(w, 0.5);
    CHECK(flags(m1) == std::vector<std::uint8_t>{0, 1, 0, 0, 0, 1, 1, 1, 1, 0});
    // With no band it is a threshold at t: inside-band weights follow their score.
    dynamic_pruner<magnitude, unstructured, 1> sharp(0.0);
    sharp.update(w, 0.3);
    w(0) = 3.0f;
    CHECK(sharp.update(w, 0.3)[0]);
    // Target 0: everything grows back; target 1: everything pruned.
    CHECK(dp.update(w, 0.0).kept() == 10);
    CHECK(dp.update(w, 1.0).kept() == 0);
    dp.reset();
    CHECK_FALSE(dp.has_mask());
}

TEST_CASE("dynamic pruning of rows: a pruned neuron comes back", "[prune][dynamic]") {
    xt::xtensor<float, 2> w = {{1.f, 1.f}, {2.f, 2.f}, {3.f, 3.f}, {4.f, 4.f}};
    dynamic_pruner<magnitude, rows<l1>> dp;
    auto m = dp.update(w, 0.5);
    CHECK(kept_rows(m) == std::vector<std::size_t>{2, 3});
    w(0, 0) = 9.f;
    w(0, 1) = 9.f;
    // l1 scores 18, 4, 6, 8: t = 6, band [5.4, 6.6]; row 0 grows back, row 2 (at t) keeps its flag.
    CHECK(kept_rows(dp.update(w, 0.5)) == std::vector<std::size_t>{0, 2, 3});
    w(2, 0) = 0.5f;
    w(2, 1) = 0.5f;  // scores 18, 4, 1, 8: t = 4, row 2 falls below the band
    CHECK(kept_rows(dp.update(w, 0.5)) == std::vector<std::size_t>{0, 3});
    CHECK_THROWS_AS(dp.update(w, 1.5), value_error);
    CHECK_THROWS_WITH(dp.update(w, -0.5), Catch::Contains("target must be a fraction"));
    w(1, 1) = std::nanf("");
    CHECK_THROWS_AS(dp.update(w, 0.5), value_error);
    CHECK_THROWS_AS(dynamic_pruner<>(-0.1), value_error);
}

TEST_CASE("sparsity_report: counts, ratios and byte estimates", "[prune][report]") {
    sparsity_report r;
    mask<2> m({4, 8}, false);
    for (std::size_t i = 0; i < 8; ++i) m.set(i * 4, true);
    r.add("fc1.weight", m);  // float weights
    xt::xtensor<double, 1> b = {0.0, 1.0, 0.0, 2.0};
    r.add("fc1.bias", b);
    REQUIRE(r.entries().size() == 2);
    const auto& e = r.entries()[0];
    CHECK(e.size == 32);
    CHECK(e.kept == 8);
    CHECK(e.pruned == 24);
    CHECK(e.sparsity == 0.75);
    CHECK(e.bytes_dense == 128);
    CHECK(e.bytes_csr == 8 * 8 + 5 * 4);
    CHECK(e.bytes_bitmask == 8 * 4 + 8);
    CHECK(e.bytes_sparse() == 40);
    const auto& eb = r.entries()[1];
    CHECK(eb.kept == 2);
    CHECK(eb.value_bytes == 8);
    CHECK(eb.bytes_dense == 32);
    CHECK(eb.bytes_csr == 2 * 12 + 2 * 4);
    const auto t = r.total();
    CHECK(t.size == 36);
    CHECK(t.kept == 10);
    CHECK(t.sparsity == Approx(26.0 / 36.0));
    CHECK(t.bytes_dense == 160);
    const std::string s = r.to_string();
    CHECK_THAT(s, Catch::Contains("fc1.weight") && Catch::Contains("[4, 8]") && Catch::Contains("0.7500") &&
                      Catch::Contains("total"));
    CHECK_THROWS_AS(r.add("x", m, 0), value_error);
    sparsity_report empty;
    CHECK(empty.total().sparsity == 0.0);
}

TEST_CASE("global pruning: runtime lists, contexts, previous masks, errors", "[prune][global]") {
    auto a = prune_ref::randn<float, 2>({10, 12}, 35, 1.0);
    auto b = prune_ref::randn<float, 2>({6, 12}, 36, 0.2);
    // Reference: one ranking over the concatenation.
    std::vector<double> s;
    for (auto v : a) s.push_back(std::abs(v));
    for (auto v : b) s.push_back(std::abs(v));
    auto ref = prune_lowest(s, 115);
    std::vector<const xt::xtensor<float, 2>*> ws{&a, &b};
    auto ms = compute_mask_global<magnitude>(ws, 0.6);
    REQUIRE(ms.size() == 2);
    std::vector<std::uint8_t> got = flags(ms[0]);
    auto fb = flags(ms[1]);
    got.insert(got.end(), fb.begin(), fb.end());
    CHECK(got == ref);
    CHECK(ms[1].sparsity() > ms[0].sparsity());  // the small-scale tensor loses more
    auto [t0, t1] = compute_mask_global<magnitude>(std::tie(a, b), 0.6);
    CHECK(t0 == ms[0]);
    CHECK(t1 == ms[1]);
    // Threshold and count.
    auto th = compute_mask_global<magnitude>(ws, amount::threshold(0.3));
    for (std::size_t i = 0; i < a.size(); ++i) CHECK(th[0][i] == (std::abs(a.data()[i]) >= 0.3f));
    CHECK(compute_mask_global<magnitude>(ws, amount::count(7))[0].pruned() + compute_mask_global<magnitude>(ws, amount::count(7))[1].pruned() == 7);
    // Previous masks stay pruned and count towards the total.
    std::vector<prune_context<float, 2>> ctxs(2);
    mask<2> prev_a({10, 12});
    for (std::size_t i = 0; i < 100; ++i) prev_a.set(i, false);
    ctxs[0].with_previous(prev_a);
    auto mp = compute_mask_global<magnitude>(ws, 0.6, ctxs);
    CHECK(mp[0].pruned() + mp[1].pruned() == 115);
    CHECK((mp[0] & prev_a) == mp[0]);
    // Taylor across tensors with one gradient each; random with a seed.
    xt::xtensor<float, 2> ga = xt::ones<float>({10, 12}), gb = xt::ones<float>({6, 12}) * 100.0f;
    std::vector<prune_context<float, 2>> tctx(2);
    tctx[0].with_gradient(ga);
    tctx[1].with_gradient(gb);
    auto mt = compute_mask_global<taylor>(ws, 0.5, tctx);
    CHECK(mt[0].pruned() + mt[1].pruned() == 96);
    std::vector<prune_context<float, 2>> rctx(2);
    rctx[0].with_seed(5);
    rctx[1].with_seed(5);
    CHECK(compute_mask_global<compress::random>(ws, 0.5, rctx)[1] == compute_mask_global<compress::random>(ws, 0.5, rctx)[1]);
    // prune_global on a runtime list zeroes in place.
    auto a2 = a;
    auto b2 = b;
    std::vector<xt::xtensor<float, 2>*> pw{&a2, &b2};
    auto pm = prune_global<magnitude>(pw, 0.6);
    CHECK((a2 == ms[0].applied(a)));
    CHECK((b2 == ms[1].applied(b)));
    // Errors.
    CHECK_THROWS_AS(compute_mask_global<magnitude>(ws, 1.2), value_error);
    std::vector<prune_context<float, 2>> one(1);
    CHECK_THROWS_AS(compute_mask_global<magnitude>(ws, 0.5, one), shape_error);
    CHECK_THROWS_WITH(compute_mask_global<magnitude>(ws, 0.5, one), Catch::Contains("1 contexts for 2 tensors"));
    std::vector<const xt::xtensor<float, 2>*> withnull{&a, nullptr};
    CHECK_THROWS_AS(compute_mask_global<magnitude>(withnull, 0.5), value_error);
    b(5, 11) = std::numeric_limits<float>::infinity();
    CHECK_THROWS_WITH(compute_mask_global<magnitude>(ws, 0.5), Catch::Contains("tensor #1") && Catch::Contains("(5, 11)"));
    mask<2> wrong({3, 3});
    std::vector<prune_context<float, 2>> wctx(2);
    wctx[0].with_previous(wrong);
    b(5, 11) = 0.0f;
    CHECK_THROWS_AS(compute_mask_global<magnitude>(ws, 0.5, wctx), shape_error);
    std::vector<const xt::xtensor<float, 2>*> none;
    CHECK(compute_mask_global<magnitude>(none, 0.5).empty());
}
