#include <catch2/catch.hpp>

#include <cmath>
#include <limits>
#include <random>

#include <compress/lowrank.hpp>

#include "test_random.hpp"

using namespace compress;
using Catch::Matchers::Contains;
using Catch::Matchers::StartsWith;

namespace {
using test_random::normal_matrix;

xt::xtensor<float, 2> matmul(const xt::xtensor<float, 2>& a, const xt::xtensor<float, 2>& b) {
    xt::xtensor<float, 2> c = xt::zeros<float>({a.shape()[0], b.shape()[1]});
    for (std::size_t i = 0; i < a.shape()[0]; ++i)
        for (std::size_t k = 0; k < a.shape()[1]; ++k)
            for (std::size_t j = 0; j < b.shape()[1]; ++j) c(i, j) += a(i, k) * b(k, j);
    return c;
}

double frobenius(const xt::xtensor<float, 2>& a) {
    double s = 0.0;
    for (auto v : a) s += double(v) * v;
    return std::sqrt(s);
}
}  // namespace

TEST_CASE("low_rank reconstructs a matrix of that rank exactly", "[lowrank]") {
    auto w = matmul(normal_matrix(12, 3, 1), normal_matrix(3, 9, 2));
    auto f = low_rank(w, 3);
    CHECK(f.rank == 3);
    CHECK(f.u.shape()[0] == 12);
    CHECK(f.u.shape()[1] == 3);
    CHECK(f.v.shape()[0] == 3);
    CHECK(f.v.shape()[1] == 9);
    CHECK(f.parameters() == 3 * (12 + 9));
    CHECK(f.relative_error < 1e-6);
    CHECK(f.energy == Approx(1.0));
    auto r = f.reconstruct();
    xt::xtensor<float, 2> diff = r - w;
    CHECK(frobenius(diff) / frobenius(w) < 1e-5);
    CHECK(f.singular_values.size() == 9);
    CHECK(f.singular_values(3) < 1e-5 * f.singular_values(0));
    // The smallest rank keeping all the energy is 3.
    CHECK(low_rank_energy(w, 1.0).rank == 3);
}

TEST_CASE("low_rank: hand-computed singular values, errors and energy", "[lowrank]") {
    xt::xtensor<float, 2> w = xt::zeros<float>({4, 3});
    w(0, 1) = 3.0f;
    w(1, 0) = -5.0f;
    w(3, 2) = 1.0f;
    auto s = singular_values(w);
    REQUIRE(s.size() == 3);
    CHECK(s(0) == Approx(5.0));
    CHECK(s(1) == Approx(3.0));
    CHECK(s(2) == Approx(1.0));
    auto f1 = low_rank(w, 1);
    CHECK(f1.relative_error == Approx(std::sqrt(10.0 / 35.0)));
    CHECK(f1.energy == Approx(25.0 / 35.0));
    auto r1 = f1.reconstruct();
    CHECK(r1(1, 0) == Approx(-5.0f));
    CHECK(r1(0, 1) == Approx(0.0f).margin(1e-6));
    CHECK(low_rank_energy(w, 0.7).rank == 1);
    CHECK(low_rank_energy(w, 0.9).rank == 2);
    CHECK(low_rank_energy(w, 0.98).rank == 3);
    xt::xtensor<float, 2> zero = xt::zeros<float>({3, 5});
    auto z = low_rank_energy(zero, 0.5);
    CHECK(z.rank == 1);
    CHECK(z.relative_error == 0.0);
}

TEST_CASE("low_rank: reported error is the measured Frobenius error (Eckart-Young)", "[lowrank]") {
    auto w = normal_matrix(20, 14, 3);
    double prev = 1.0;
    for (std::size_t r : {1u, 4u, 9u, 14u}) {
        auto f = low_rank(w, r);
        xt::xtensor<float, 2> diff = f.reconstruct() - w;
        const double measured = frobenius(diff) / frobenius(w);
        INFO("rank " << r);
        CHECK(f.relative_error == Approx(measured).margin(1e-5));
        CHECK(f.relative_error <= prev + 1e-12);
        prev = f.relative_error;
        // Balanced factors: column j of u and row j of v both have norm sqrt(sigma_j).
        for (std::size_t j = 0; j < r; ++j) {
            double nu = 0.0, nv = 0.0;
            for (std::size_t i = 0; i < 20; ++i) nu += double(f.u(i, j)) * f.u(i, j);
            for (std::size_t i = 0; i < 14; ++i) nv += double(f.v(j, i)) * f.v(j, i);
            CHECK(nu == Approx(f.singular_values(j)).epsilon(1e-5));
            CHECK(nv == Approx(f.singular_values(j)).epsilon(1e-5));
        }
    }
    CHECK(low_rank(w, 14).relative_error < 1e-6);
    // Truncating any other way does no better: perturbing the factors increases the error.
    auto f = low_rank(w, 4);
    auto g = f;
    g.u(0, 0) += 0.05f;
    xt::xtensor<float, 2> d2 = g.reconstruct() - w;
    CHECK(frobenius(d2) / frobenius(w) > f.relative_error);
}

TEST_CASE("lowrank: bad input throws typed errors with messages", "[lowrank][errors]") {
    auto w = normal_matrix(5, 3, 4);
    CHECK_THROWS_AS(low_rank(w, 4), value_error);
    CHECK_THROWS_WITH(low_rank(w, 4), "value error: low_rank: rank 4 is outside [1, min(m, n) = 3] for a weight of shape [5, 3]");
    CHECK_THROWS_AS(low_rank(w, 0), value_error);
    for (double e : {0.0, -0.5, 1.5, std::nan("")}) CHECK_THROWS_AS(low_rank_energy(w, e), value_error);
    CHECK_THROWS_WITH(low_rank_energy(w, 1.5), StartsWith("value error: low_rank_energy: energy must be a fraction in (0, 1]"));
    auto bad = w;
    bad(4, 2) = std::numeric_limits<float>::infinity();
    CHECK_THROWS_AS(low_rank(bad, 2), value_error);
    CHECK_THROWS_WITH(low_rank(bad, 2), "value error: tensor 'weight' has a non-finite value (Inf) at (4, 2)");
    xt::xtensor<float, 1> v = {1.0f, 2.0f};
    CHECK_THROWS_AS(low_rank(v, 1), shape_error);
    CHECK_THROWS_WITH(singular_values(v), "shape error: tensor 'weight' must have rank 2, got shape [2]");
    xt::xtensor<float, 2> empty = xt::zeros<float>({0, 3});
    CHECK_THROWS_AS(singular_values(empty), shape_error);
}
