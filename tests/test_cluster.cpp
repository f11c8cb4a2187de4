#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>

#include <compress/cluster.hpp>

#include "test_random.hpp"

using namespace compress;
using Catch::Matchers::Contains;
using Catch::Matchers::StartsWith;

namespace {
using test_random::normal_matrix;

// Plain Lloyd (O(n k) nearest-centroid search, means recomputed from scratch), as a reference.
std::vector<double> naive_lloyd(const std::vector<double>& x, std::vector<double> c, int iters) {
    for (int it = 0; it < iters; ++it) {
        std::vector<double> sum(c.size(), 0.0);
        std::vector<std::size_t> cnt(c.size(), 0);
        for (double v : x) {
            std::size_t best = 0;
            for (std::size_t j = 1; j < c.size(); ++j)
                if (std::abs(v - c[j]) < std::abs(v - c[best])) best = j;
            sum[best] += v;
            ++cnt[best];
        }
        for (std::size_t j = 0; j < c.size(); ++j)
            if (cnt[j]) c[j] = sum[j] / double(cnt[j]);
    }
    std::sort(c.begin(), c.end());
    return c;
}

template <std::size_t N>
void check_nearest(const shared_weights<N>& sw, const xt::xtensor<float, N>& w) {
    const auto idx = sw.indices();
    std::size_t j = 0;
    for (std::size_t i = 0; i < w.size(); ++i) {
        if (!sw.keep()[i]) continue;
        const double v = w.data()[i];
        const double mine = std::abs(v - sw.codebook()[idx[j]]);
        for (float c : sw.codebook()) CHECK(mine <= std::abs(v - c) + 1e-6);
        ++j;
    }
}
}  // namespace

TEST_CASE("cluster: hand-computed two-cluster case", "[cluster]") {
    xt::xtensor<float, 1> w = {0.0f, 10.0f, 1.0f, 9.0f};
    auto sw = cluster<linear_init>(w, 2);
    REQUIRE(sw.k() == 2);
    CHECK(sw.codebook()[0] == Approx(0.5f));
    CHECK(sw.codebook()[1] == Approx(9.5f));
    CHECK(sw.indices() == std::vector<std::uint32_t>{0, 1, 0, 1});
    CHECK(sw.inertia() == Approx(1.0));
    CHECK(sw.bits() == 1);
    auto d = sw.to_dense();
    CHECK(d(1) == Approx(9.5f));
    CHECK(d(2) == Approx(0.5f));
}

TEST_CASE("cluster: initialisations before any Lloyd iteration", "[cluster]") {
    xt::xtensor<float, 1> w = {-2.0f, 0.0f, 0.5f, 1.0f, 2.0f, 6.0f};
    kmeans_options none{0, 0.0, 0};
    auto lin = cluster<linear_init>(w, 3, none);
    CHECK(lin.codebook() == std::vector<float>{-2.0f, 2.0f, 6.0f});
    auto den = cluster<density_init>(w, 3, none);  // quantiles at (j + 1/2) / 3 of 6 sorted values: indices 1, 3, 5
    CHECK(den.codebook() == std::vector<float>{0.0f, 1.0f, 6.0f});
    for (std::uint64_t seed : {1u, 2u, 3u}) {
        auto pp = cluster<kmeans_plusplus>(w, 3, {0, 0.0, seed});
        for (float c : pp.codebook()) CHECK(std::find(w.begin(), w.end(), c) != w.end());
        // k-means++ never picks the same weight twice while distinct ones remain.
        CHECK(std::adjacent_find(pp.codebook().begin(), pp.codebook().end()) == pp.codebook().end());
    }
}

TEST_CASE("cluster: Lloyd with prefix sums equals a naive Lloyd reference", "[cluster]") {
    auto w = normal_matrix(40, 25, 4);
    const std::size_t k = 8;
    std::vector<double> x(w.begin(), w.end());
    const double lo = *std::min_element(x.begin(), x.end()), hi = *std::max_element(x.begin(), x.end());
    std::vector<double> init(k);
    for (std::size_t j = 0; j < k; ++j) init[j] = lo + (hi - lo) * double(j) / double(k - 1);
    for (int iters : {1, 5, 30}) {
        auto sw = cluster<linear_init>(w, k, {std::size_t(iters), 0.0, 0});
        auto ref = naive_lloyd(x, init, iters);
        for (std::size_t j = 0; j < k; ++j) CHECK(sw.codebook()[j] == Approx(ref[j]).margin(1e-5));
        check_nearest(sw, w);
    }
    // At convergence each centroid is the mean of its members.
    auto sw = cluster<linear_init>(w, k);
    const auto idx = sw.indices();
    for (std::size_t j = 0; j < k; ++j) {
        double s = 0.0;
        std::size_t n = 0;
        for (std::size_t i = 0; i < x.size(); ++i)
            if (idx[i] == j) { s += x[i]; ++n; }
        REQUIRE(n > 0);
        CHECK(sw.codebook()[j] == Approx(s / double(n)).margin(1e-5));
    }
}

TEST_CASE("cluster: separated groups are recovered by every initialisation", "[cluster]") {
    std::mt19937 rng(5);
    std::normal_distribution<float> noise(0.0f, 0.01f);
    const float centres[3] = {-1.0f, 0.2f, 3.0f};
    xt::xtensor<float, 2> w = xt::xtensor<float, 2>::from_shape({30, 10});
    std::vector<double> sum(3, 0.0);
    std::vector<int> cnt(3, 0);
    std::vector<int> truth(w.size());
    for (std::size_t i = 0; i < w.size(); ++i) {
        truth[i] = int(i % 3);
        w.data()[i] = centres[i % 3] + noise(rng);
        sum[i % 3] += w.data()[i];
        ++cnt[i % 3];
    }
    auto check = [&](const shared_weights<2>& sw) {
        for (int j = 0; j < 3; ++j) CHECK(sw.codebook()[std::size_t(j)] == Approx(sum[std::size_t(j)] / cnt[std::size_t(j)]).margin(1e-5));
        const auto idx = sw.indices();
        for (std::size_t i = 0; i < w.size(); ++i) CHECK(idx[i] == std::uint32_t(truth[i]));
    };
    check(cluster<linear_init>(w, 3));
    check(cluster<density_init>(w, 3));
    for (std::uint64_t seed = 0; seed < 5; ++seed) check(cluster<kmeans_plusplus>(w, 3, {100, 1e-9, seed}));
    // Same seed, same result.
    auto a = cluster<kmeans_plusplus>(normal_matrix(20, 20, 1), 16, {100, 1e-9, 77});
    auto b = cluster<kmeans_plusplus>(normal_matrix(20, 20, 1), 16, {100, 1e-9, 77});
    CHECK(a.codebook() == b.codebook());
    CHECK(a.packed() == b.packed());
}

TEST_CASE("packed indices take ceil(log2 k) bits each in a fixed little-endian layout", "[cluster]") {
    auto w = normal_matrix(10, 13, 6);  // 130 weights
    for (std::size_t k : {1u, 2u, 3u, 4u, 5u, 16u, 32u, 33u, 64u}) {
        auto sw = cluster<linear_init>(w, k);
        const unsigned expect = k == 1 ? 0u : unsigned(std::ceil(std::log2(double(k))));
        CHECK(sw.bits() == expect);
        CHECK(sw.packed().size() == (130 * expect + 7) / 8);
        CHECK(sw.bytes() == sw.packed().size() + 4 * k);
        for (std::uint32_t i : sw.indices()) CHECK(i < k);
    }
    // Hand-packed: k = 4 (2 bits): 1, 3, 2, 0 | 1 -> 0b00'10'11'01, 0b01.
    mask<1> all({5}, true);
    shared_weights<1> s4(all, {0.f, 1.f, 2.f, 3.f}, {1, 3, 2, 0, 1});
    CHECK(s4.packed() == std::vector<std::uint8_t>{0x2D, 0x01});
    // k = 32 (5 bits) crosses bytes: 31 then 1 -> bits 0-4 set, bit 5 set.
    mask<1> two({2}, true);
    std::vector<float> cb(32);
    for (std::size_t i = 0; i < 32; ++i) cb[i] = float(i);
    shared_weights<1> s32(two, cb, {31, 1});
    CHECK(s32.packed() == std::vector<std::uint8_t>{0x3F, 0x00});
    CHECK(s32.index(0) == 31);
    CHECK(s32.index(1) == 1);
    auto d = s32.to_dense();
    CHECK(d(0) == 31.0f);
    CHECK(d(1) == 1.0f);
}

TEST_CASE("cluster with a mask: only survivors are clustered, pruned weights decode to zero", "[cluster]") {
    xt::xtensor<float, 2> w = {{-2.0f, 0.01f, -2.2f, 0.02f}, {2.0f, -0.03f, 2.2f, 0.0f}};
    auto keep = mask<2>::from_flags(xt::xtensor<int, 2>{{1, 0, 1, 0}, {1, 0, 1, 0}});
    auto sw = cluster<linear_init>(w, 2, keep);
    CHECK(sw.count() == 4);
    CHECK(sw.codebook()[0] == Approx(-2.1f));
    CHECK(sw.codebook()[1] == Approx(2.1f));
    auto d = sw.to_dense();
    CHECK(d(0, 1) == 0.0f);
    CHECK(d(1, 3) == 0.0f);
    CHECK(d(1, 2) == Approx(2.1f));
    CHECK(sw.bytes() == 1 + 8 + keep.pack().bytes());
}

TEST_CASE("codebook fine-tuning: per-cluster gradient sums", "[cluster]") {
    xt::xtensor<float, 1> w = {0.0f, 10.0f, 1.0f, 9.0f, 0.5f};
    auto sw = cluster<linear_init>(w, 2);  // clusters {0, 1, 0.5} and {10, 9}
    xt::xtensor<float, 1> g = {1.0f, 2.0f, 3.0f, 4.0f, 5.0f};
    auto cg = codebook_gradient(sw, g);
    CHECK(cg(0) == Approx(1.0f + 3.0f + 5.0f));
    CHECK(cg(1) == Approx(2.0f + 4.0f));
    const float c0 = sw.codebook()[0], c1 = sw.codebook()[1];
    finetune_codebook(sw, g, 0.1f);
    CHECK(sw.codebook()[0] == Approx(c0 - 0.9f));
    CHECK(sw.codebook()[1] == Approx(c1 - 0.6f));

    // d L / d c_j for L(W(c)) = 1/2 ||W - target||^2 by finite differences, and descent.
    auto w2 = normal_matrix(6, 7, 8);
    auto target = normal_matrix(6, 7, 9);
    auto keep = mask<2>::from_flags(xt::xtensor<int, 2>(xt::abs(w2) > 0.3f));
    auto s = cluster<kmeans_plusplus>(w2, 4, keep, {100, 1e-9, 3});
    auto loss = [&](const shared_weights<2>& x) {
        auto d = x.to_dense();
        double l = 0.0;
        for (std::size_t i = 0; i < d.size(); ++i) l += 0.5 * (d.data()[i] - target.data()[i]) * (d.data()[i] - target.data()[i]);
        return l;
    };
    xt::xtensor<float, 2> grad = s.to_dense() - target;  // dL/dW
    auto an = codebook_gradient(s, grad);
    for (std::size_t j = 0; j < 4; ++j) {
        auto up = s, down = s;
        up.codebook()[j] += 1e-2f;
        down.codebook()[j] -= 1e-2f;
        CHECK(an(j) == Approx((loss(up) - loss(down)) / 2e-2).margin(1e-3));
    }
    const double before = loss(s);
    for (int it = 0; it < 20; ++it) {
        xt::xtensor<float, 2> gi = s.to_dense() - target;
        finetune_codebook(s, gi, 0.01f);
    }
    CHECK(loss(s) < before);
}

TEST_CASE("cluster: bad input throws typed errors with messages", "[cluster][errors]") {
    auto w = normal_matrix(3, 4, 1);
    CHECK_THROWS_AS(cluster(w, 13), value_error);
    CHECK_THROWS_WITH(cluster(w, 13), "value error: cluster: k = 13 is larger than the number of weights to cluster (12)");
    CHECK_NOTHROW(cluster(w, 12));
    CHECK_THROWS_WITH(cluster(w, 0), "value error: cluster: k must be >= 1");
    mask<2> few({3, 4}, false);
    few.set(0, true);
    few.set(5, true);
    CHECK_THROWS_WITH(cluster(w, 3, few), Contains("k = 3 is larger than the number of weights to cluster (2)"));
    mask<2> wrong({4, 3}, true);
    CHECK_THROWS_AS(cluster(w, 2, wrong), shape_error);
    CHECK_THROWS_WITH(cluster(w, 2, wrong), "shape error: cluster: mask of shape [4, 3] does not fit weight of shape [3, 4]");
    auto bad = w;
    bad(2, 3) = std::numeric_limits<float>::quiet_NaN();
    CHECK_THROWS_AS(cluster(bad, 2), value_error);
    CHECK_THROWS_WITH(cluster(bad, 2), "value error: tensor 'weight' has a non-finite value (NaN) at (2, 3)");
    auto sw = cluster(w, 2);
    xt::xtensor<float, 2> g = xt::zeros<float>({4, 3});
    CHECK_THROWS_AS(codebook_gradient(sw, g), shape_error);
    CHECK_THROWS_WITH(codebook_gradient(sw, g), "shape error: codebook_gradient: gradient of shape [4, 3] does not fit shared weights of shape [3, 4]");
    CHECK_THROWS_AS(finetune_codebook(sw, bad, 0.1f), value_error);
    CHECK_THROWS_AS(sw.index(12), shape_error);
    mask<1> m3({3}, true);
    CHECK_THROWS_WITH(shared_weights<1>(m3, {0.f, 1.f}, {0, 2, 1}), "value error: shared_weights: index 2 at 1 is not below k = 2");
    CHECK_THROWS_WITH(shared_weights<1>(m3, {0.f, 1.f}, {0, 1}), "shape error: shared_weights: 2 indices for 3 kept weights");
    CHECK_THROWS_WITH(shared_weights<1>(m3, {}, {0, 0, 0}), "value error: shared_weights: the codebook is empty");
}
