// Property tests of pruning over random shapes, amounts and seeds (issue 10): the pruned count
// is exactly round-half-even(amount × groups) (never more), groups are pruned whole, the pruned
// groups are the lowest-scored ones (ties by index), a previous mask only ever shrinks, masks
// are monotone under every schedule, and global pruning keeps the total count. Every expected
// value is computed here independently (counts by hand, orderings by comparing scores).
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include <compress/prune.hpp>

using namespace compress;

namespace {

/// PyTorch's round(amount * n): round half to even on the double product.
std::size_t expected_count(double a, std::size_t n) { return static_cast<std::size_t>(std::nearbyint(a * double(n))); }

/// Random weights with many exact ties (multiples of 0.25 in [-2, 2]) so tie-breaking is exercised.
template <std::size_t N>
xt::xtensor<float, N> tied_weights(const std::array<std::size_t, N>& shape, std::mt19937& rng) {
    auto w = xt::xtensor<float, N>::from_shape(shape);
    std::uniform_int_distribution<int> q(-8, 8);
    for (auto& v : w) v = 0.25f * static_cast<float>(q(rng));
    return w;
}

template <std::size_t N>
std::array<std::size_t, N> random_shape(std::mt19937& rng, std::size_t max_extent, std::size_t multiple_last = 1,
                                        std::size_t multiple_first = 1) {
    std::uniform_int_distribution<std::size_t> d(1, max_extent);
    std::array<std::size_t, N> s{};
    for (auto& e : s) e = d(rng);
    s[0] *= multiple_first;
    s[N - 1] *= multiple_last;
    return s;
}

double random_amount(std::mt19937& rng, int i) {
    if (i % 7 == 0) return 0.0;
    if (i % 7 == 1) return 1.0;
    if (i % 7 == 2) return 0.5;
    return std::uniform_real_distribution<double>(0.0, 1.0)(rng);
}

/// Checks the unstructured magnitude mask: exact count; every pruned |w| below every kept |w|,
/// and among equal |w| the pruned ones have the lower flat indices.
template <std::size_t N>
void check_magnitude_unstructured(const xt::xtensor<float, N>& w, const mask<N>& m, std::size_t k) {
    REQUIRE(m.shape() == w.shape());
    CHECK(m.pruned() == k);
    float max_pruned = -1.0f, min_kept = INFINITY;
    std::size_t last_pruned_at_max = 0, first_kept_at_min = SIZE_MAX;
    for (std::size_t i = 0; i < w.size(); ++i) {
        const float a = std::fabs(w.data()[i]);
        if (!m[i]) {
            if (a > max_pruned || (a == max_pruned)) { max_pruned = a; last_pruned_at_max = i; }
        }
    }
    for (std::size_t i = 0; i < w.size(); ++i) {
        const float a = std::fabs(w.data()[i]);
        if (m[i] && (a < min_kept)) { min_kept = a; first_kept_at_min = i; }
    }
    if (k > 0 && k < w.size()) {
        CHECK(max_pruned <= min_kept);
        if (max_pruned == min_kept) CHECK(last_pruned_at_max < first_kept_at_min);
    }
}

}  // namespace

TEST_CASE("properties: unstructured magnitude and random prune exactly round(amount n), lowest first, ties by index",
          "[properties][prune]") {
    std::mt19937 rng(1001);
    for (int i = 0; i < 60; ++i) {
        const double a = random_amount(rng, i);
        INFO("case " << i << " amount " << a);
        if (i % 3 == 0) {
            const auto w = tied_weights<2>(random_shape<2>(rng, 17), rng);
            const std::size_t k = expected_count(a, w.size());
            check_magnitude_unstructured(w, compute_mask<magnitude>(w, a), k);
            prune_context<float, 2> ctx;
            ctx.with_seed(static_cast<std::uint64_t>(i));
            const auto r = compute_mask<compress::random>(w, a, ctx);
            CHECK(r.pruned() == k);
            CHECK(r == compute_mask<compress::random>(w, a, ctx));  // seeded: reproducible
        } else if (i % 3 == 1) {
            const auto w = tied_weights<4>(random_shape<4>(rng, 4), rng);
            check_magnitude_unstructured(w, compute_mask<magnitude>(w, a), expected_count(a, w.size()));
        } else {
            const auto w = tied_weights<1>(random_shape<1>(rng, 300), rng);
            check_magnitude_unstructured(w, compute_mask<magnitude>(w, a), expected_count(a, w.size()));
        }
    }
}

TEST_CASE("properties: prune() zeroes exactly the pruned weights and returns compute_mask's mask", "[properties][prune]") {
    std::mt19937 rng(1002);
    for (int i = 0; i < 20; ++i) {
        auto w = tied_weights<2>(random_shape<2>(rng, 12), rng);
        const auto before = w;
        const double a = random_amount(rng, i);
        const auto expect = compute_mask<magnitude>(before, a);
        const auto m = compress::prune<magnitude>(w, a);
        CHECK(m == expect);
        for (std::size_t j = 0; j < w.size(); ++j) CHECK(w.data()[j] == (m[j] ? before.data()[j] : 0.0f));
    }
}

TEST_CASE("properties: count and threshold amounts", "[properties][prune]") {
    std::mt19937 rng(1003);
    for (int i = 0; i < 30; ++i) {
        const auto w = tied_weights<2>(random_shape<2>(rng, 11), rng);
        const std::size_t c = std::uniform_int_distribution<std::size_t>(0, w.size())(rng);
        check_magnitude_unstructured(w, compute_mask<magnitude>(w, amount::count(c)), c);
        const double t = 0.25 * std::uniform_int_distribution<int>(0, 9)(rng);
        const auto m = compute_mask<magnitude>(w, amount::threshold(t));
        for (std::size_t j = 0; j < w.size(); ++j) CHECK(m[j] == !(std::fabs(w.data()[j]) < t));
    }
}

TEST_CASE("properties: rows and columns prune whole slices, exactly round(amount groups), lowest norm first",
          "[properties][prune]") {
    std::mt19937 rng(1004);
    for (int i = 0; i < 40; ++i) {
        const double a = random_amount(rng, i);
        const bool conv = i % 2 == 0;
        xt::xtensor<float, 4> w4;
        xt::xtensor<float, 2> w2;
        std::array<std::size_t, 2> mat{};
        if (conv) {
            w4 = tied_weights<4>(random_shape<4>(rng, 5), rng);
            mat = {w4.shape()[0], w4.size() / w4.shape()[0]};
        } else {
            w2 = tied_weights<2>(random_shape<2>(rng, 13), rng);
            mat = {w2.shape()[0], w2.shape()[1]};
        }
        const float* wd = conv ? w4.data() : w2.data();
        const bool by_rows = i % 4 < 2;
        INFO("case " << i << (conv ? " conv" : " linear") << (by_rows ? " rows" : " columns") << " amount " << a);
        std::vector<std::uint8_t> flags;
        if (conv) {
            const auto m = by_rows ? compute_mask<magnitude, rows<l2>>(w4, a) : compute_mask<magnitude, columns<l2>>(w4, a);
            for (std::size_t j = 0; j < m.size(); ++j) flags.push_back(m[j] ? 1 : 0);
        } else {
            const auto m = by_rows ? compute_mask<magnitude, rows<l2>>(w2, a) : compute_mask<magnitude, columns<l2>>(w2, a);
            for (std::size_t j = 0; j < m.size(); ++j) flags.push_back(m[j] ? 1 : 0);
        }
        // group id of each flat element: the row, or the axis-1 index (input channel)
        const std::size_t inner = conv ? w4.shape()[2] * w4.shape()[3] : 1;
        const std::size_t cin = conv ? w4.shape()[1] : w2.shape()[1];
        const std::size_t groups = by_rows ? mat[0] : cin;
        auto group_of = [&](std::size_t flat) { return by_rows ? flat / mat[1] : (flat / inner) % cin; };
        std::vector<int> state(groups, -1);  // -1 unseen, 0 pruned, 1 kept
        std::vector<double> norm2(groups, 0.0);
        bool uniform = true;
        for (std::size_t j = 0; j < flags.size(); ++j) {
            const std::size_t g = group_of(j);
            const int f = flags[j] ? 1 : 0;
            if (state[g] == -1) state[g] = f;
            uniform = uniform && state[g] == f;
            norm2[g] += double(wd[j]) * double(wd[j]);
        }
        CHECK(uniform);
        const std::size_t pruned = static_cast<std::size_t>(std::count(state.begin(), state.end(), 0));
        CHECK(pruned == expected_count(a, groups));
        double max_pruned = -1.0, min_kept = INFINITY;
        for (std::size_t g = 0; g < groups; ++g) {
            if (state[g] == 0) max_pruned = std::max(max_pruned, norm2[g]);
            else min_kept = std::min(min_kept, norm2[g]);
        }
        if (pruned > 0 && pruned < groups) CHECK(max_pruned <= min_kept * (1.0 + 1e-6));
    }
}

TEST_CASE("properties: blocks<2,4> prunes whole tiles, exactly round(amount tiles)", "[properties][prune]") {
    std::mt19937 rng(1005);
    for (int i = 0; i < 25; ++i) {
        const auto w = tied_weights<2>(random_shape<2>(rng, 6, 4, 2), rng);
        const double a = random_amount(rng, i);
        const auto m = compute_mask<magnitude, blocks<2, 4>>(w, a);
        const std::size_t R = w.shape()[0], C = w.shape()[1];
        const std::size_t tiles = (R / 2) * (C / 4);
        std::size_t pruned = 0;
        bool uniform = true;
        for (std::size_t tr = 0; tr < R / 2; ++tr) {
            for (std::size_t tc = 0; tc < C / 4; ++tc) {
                const bool first = m(2 * tr, 4 * tc);
                for (std::size_t r = 0; r < 2; ++r)
                    for (std::size_t c = 0; c < 4; ++c) uniform = uniform && m(2 * tr + r, 4 * tc + c) == first;
                pruned += first ? 0 : 1;
            }
        }
        CHECK(uniform);
        CHECK(pruned == expected_count(a, tiles));
    }
}

TEST_CASE("properties: n_of_m keeps exactly N of every M, the N largest, ties by index", "[properties][prune]") {
    std::mt19937 rng(1006);
    for (int i = 0; i < 30; ++i) {
        if (i % 2 == 0) {
            const auto w = tied_weights<2>(random_shape<2>(rng, 9, 4), rng);
            const auto m = compute_mask<magnitude, n_of_m<2, 4>>(w);
            CHECK(m.kept() * 2 == m.size());
            for (std::size_t run = 0; run < w.size() / 4; ++run) {
                std::size_t kept = 0;
                for (std::size_t j = 0; j < 4; ++j) kept += m[4 * run + j];
                CHECK(kept == 2);
                for (std::size_t p = 0; p < 4; ++p) {
                    for (std::size_t q = 0; q < 4; ++q) {
                        const std::size_t ip = 4 * run + p, iq = 4 * run + q;
                        if (!m[ip] && m[iq]) {
                            const float ap = std::fabs(w.data()[ip]), aq = std::fabs(w.data()[iq]);
                            CHECK((ap < aq || (ap == aq && ip < iq)));
                        }
                    }
                }
            }
        } else {
            const auto w = tied_weights<2>(random_shape<2>(rng, 5, 8), rng);
            const auto m = compute_mask<magnitude, n_of_m<1, 8>>(w);
            for (std::size_t run = 0; run < w.size() / 8; ++run) {
                std::size_t kept = 0;
                for (std::size_t j = 0; j < 8; ++j) kept += m[8 * run + j];
                CHECK(kept == 1);
            }
        }
    }
}

TEST_CASE("properties: with a previous mask pruning is monotone and the amount is the total", "[properties][prune]") {
    std::mt19937 rng(1007);
    for (int i = 0; i < 30; ++i) {
        const auto w = tied_weights<2>(random_shape<2>(rng, 14), rng);
        const double a1 = random_amount(rng, i), a2 = random_amount(rng, i + 3);
        const auto m1 = compute_mask<compress::random>(w, a1, prune_context<float, 2>().with_seed(7u + unsigned(i)));
        prune_context<float, 2> ctx;
        ctx.with_previous(m1);
        const auto m2 = compute_mask<magnitude>(w, a2, ctx);
        for (std::size_t j = 0; j < w.size(); ++j) CHECK((m1[j] || !m2[j]));  // pruned stays pruned
        CHECK(m2.pruned() == std::max(m1.pruned(), expected_count(a2, w.size())));
    }
}

TEST_CASE("properties: masks are monotone under every schedule; update steps hit the scheduled count",
          "[properties][prune][schedule]") {
    std::mt19937 rng(1008);
    auto run = [&](auto schedule, int steps, std::size_t max_extent) {
        using S = decltype(schedule);
        scheduled_pruner<S> sp(schedule);
        auto w = tied_weights<2>(random_shape<2>(rng, max_extent), rng);
        mask<2> m(w.shape());
        std::normal_distribution<float> noise(0.0f, 0.3f);
        std::size_t last_pruned = 0;
        for (int step = 0; step < steps; ++step) {
            const mask<2> before = m;
            const bool updated = sp.update(step, w, m);
            const auto target = schedule.sparsity_at(step);
            CHECK(updated == target.has_value());
            for (std::size_t j = 0; j < w.size(); ++j) {
                CHECK((before[j] || !m[j]));                 // never un-pruned
                if (!m[j]) CHECK(w.data()[j] == 0.0f);       // pruned weights are zero after update
            }
            if (updated) CHECK(m.pruned() == std::max(last_pruned, expected_count(*target, w.size())));
            CHECK(m.pruned() >= last_pruned);
            last_pruned = m.pruned();
            // "training": every weight moves, pruned ones too (as if the optimizer ignored the mask)
            for (auto& v : w) v += noise(rng);
        }
    };
    for (int rep = 0; rep < 4; ++rep) {
        const double sf = std::uniform_real_distribution<double>(0.1, 0.95)(rng);
        run(polynomial_decay(0.0, sf, 0, 40, 3.0, 5), 50, 12);
        run(polynomial_decay(0.2, sf, 3, 30, 1.0 + rep, 1), 35, 9);
        run(constant_sparsity(sf, 2, 30, 7), 35, 12);
        run(iterative(sf, 1 + rep, 6), 40, 10);
    }
}

TEST_CASE("properties: global pruning prunes exactly round(amount total) across tensors", "[properties][prune]") {
    std::mt19937 rng(1009);
    for (int i = 0; i < 25; ++i) {
        const std::size_t T = 1 + static_cast<std::size_t>(i % 4);
        std::vector<xt::xtensor<float, 2>> ws;
        std::size_t total = 0;
        for (std::size_t t = 0; t < T; ++t) {
            ws.push_back(tied_weights<2>(random_shape<2>(rng, 9), rng));
            total += ws.back().size();
        }
        std::vector<xt::xtensor<float, 2>*> ptrs;
        for (auto& w : ws) ptrs.push_back(&w);
        const auto copies = ws;
        const double a = random_amount(rng, i);
        const auto masks = prune_global<magnitude>(ptrs, a);
        REQUIRE(masks.size() == T);
        std::size_t pruned = 0;
        float max_pruned = -1.0f, min_kept = INFINITY;
        for (std::size_t t = 0; t < T; ++t) {
            pruned += masks[t].pruned();
            for (std::size_t j = 0; j < ws[t].size(); ++j) {
                const float v = std::fabs(copies[t].data()[j]);
                if (masks[t][j]) min_kept = std::min(min_kept, v);
                else max_pruned = std::max(max_pruned, v);
                CHECK(ws[t].data()[j] == (masks[t][j] ? copies[t].data()[j] : 0.0f));
            }
        }
        CHECK(pruned == expected_count(a, total));
        if (pruned > 0 && pruned < total) CHECK(max_pruned <= min_kept);
    }
}
