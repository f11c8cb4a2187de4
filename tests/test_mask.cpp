#include <catch2/catch.hpp>

#include <random>

#include <compress/core/mask.hpp>
#include <xtensor/xrandom.hpp>
#include <xtensor/xview.hpp>

using namespace compress;

namespace {
mask<2> random_mask(std::size_t r, std::size_t c, double keep_p, unsigned seed) {
    std::mt19937 rng(seed);
    std::bernoulli_distribution keep(keep_p);
    mask<2> m({r, c}, false);
    for (std::size_t i = 0; i < r * c; ++i) m.set(i, keep(rng));
    return m;
}
}  // namespace

TEST_CASE("mask counts and sparsity are exact", "[mask]") {
    mask<2> m({4, 5}, true);
    CHECK(m.size() == 20);
    CHECK(m.kept() == 20);
    CHECK(m.sparsity() == 0.0);
    for (std::size_t i : {0u, 3u, 7u, 19u, 11u}) m.set(i, false);
    CHECK(m.kept() == 15);
    CHECK(m.pruned() == 5);
    CHECK(m.sparsity() == 0.25);
    CHECK_FALSE(m(0, 3));
    CHECK(m(0, 4));
    CHECK_FALSE(m(3, 4));

    mask<3> none({2, 3, 4}, false);
    CHECK(none.sparsity() == 1.0);
    CHECK(none.kept() == 0);

    mask<1> empty;
    CHECK(empty.size() == 0);
    CHECK(empty.sparsity() == 0.0);
}

TEST_CASE("mask::apply zeroes exactly the pruned entries", "[mask]") {
    std::mt19937 rng(1);
    xt::xtensor<float, 2> w = xt::random::randn<float>(std::array<std::size_t, 2>{7, 9}, 0.f, 1.f, rng);
    w += 10.f;  // no weight is zero to begin with
    const xt::xtensor<float, 2> before = w;
    auto m = random_mask(7, 9, 0.4, 2);
    m.apply(w);
    for (std::size_t i = 0; i < 7; ++i)
        for (std::size_t j = 0; j < 9; ++j) {
            if (m(i, j)) CHECK(w(i, j) == before(i, j));
            else CHECK(w(i, j) == 0.0f);
        }

    // A strided view goes through the iterator path and must behave the same.
    xt::xtensor<double, 2> big = xt::ones<double>({7, 18});
    auto view = xt::view(big, xt::all(), xt::range(0, 18, 2));
    m.apply(view);
    std::size_t zeros = 0;
    for (double v : big) zeros += (v == 0.0);
    CHECK(zeros == m.pruned());
    for (std::size_t i = 0; i < 7; ++i)
        for (std::size_t j = 0; j < 9; ++j) CHECK((big(i, 2 * j) == 0.0) == !m(i, j));

    auto copy = m.applied(before);
    CHECK((copy == w));
}

TEST_CASE("mask::apply rejects a tensor of another shape", "[mask]") {
    mask<2> m({3, 4});
    xt::xtensor<float, 2> w = xt::zeros<float>({4, 3});
    CHECK_THROWS_AS(m.apply(w), shape_error);
    CHECK_THROWS_WITH(m.apply(w), "shape error: mask::apply: mask of shape [3, 4] does not fit a tensor of shape [4, 3]");
    xt::xtensor<float, 1> v = xt::zeros<float>({12});
    CHECK_THROWS_AS(m.apply(v), shape_error);
}

TEST_CASE("mask & and | combine flags", "[mask]") {
    auto a = random_mask(5, 13, 0.5, 3);
    auto b = random_mask(5, 13, 0.5, 4);
    auto both = a & b;
    auto either = a | b;
    for (std::size_t i = 0; i < a.size(); ++i) {
        CHECK(both[i] == (a[i] && b[i]));
        CHECK(either[i] == (a[i] || b[i]));
    }
    CHECK((~a).kept() == a.pruned());
    CHECK_THROWS_AS(a & mask<2>({13, 5}), shape_error);
}

TEST_CASE("packed mask round-trips exactly, 64 flags per word, LSB first", "[mask]") {
    for (std::size_t cols : {1u, 63u, 64u, 65u, 130u}) {
        auto m = random_mask(3, cols, 0.3, static_cast<unsigned>(cols));
        auto p = m.pack();
        CHECK(p.words.size() == (3 * cols + 63) / 64);
        CHECK(p.bytes() == p.words.size() * 8);
        for (std::size_t i = 0; i < m.size(); ++i) CHECK(((p.words[i / 64] >> (i % 64)) & 1u) == (m[i] ? 1u : 0u));
        CHECK(mask<2>::unpack(p) == m);
    }
    mask<2> empty({0, 5});
    CHECK(empty.pack().words.empty());
    CHECK(mask<2>::unpack(empty.pack()).size() == 0);
}

TEST_CASE("unpack rejects malformed packed masks", "[mask]") {
    auto p = random_mask(2, 10, 0.5, 9).pack();
    auto short_p = p;
    short_p.words.clear();
    CHECK_THROWS_AS(mask<2>::unpack(short_p), format_error);
    auto stray = p;
    stray.words[0] |= std::uint64_t(1) << 40;  // only 20 flags
    CHECK_THROWS_WITH(mask<2>::unpack(stray), "format error: packed mask of shape [2, 10] has bits set past its last flag");
}

TEST_CASE("mask from flags", "[mask]") {
    xt::xtensor<int, 2> f = {{1, 0, 3}, {0, 0, 1}};
    auto m = mask<2>::from_flags(f);
    CHECK(m.kept() == 3);
    CHECK(m(0, 2));
    CHECK_FALSE(m(1, 1));
    xt::xtensor<int, 1> wrong = {1, 0};
    CHECK_THROWS_AS(mask<2>::from_flags(wrong), shape_error);
    auto ft = m.as_tensor<float>();
    CHECK(ft(0, 2) == 1.0f);
    CHECK(ft(1, 0) == 0.0f);
}
