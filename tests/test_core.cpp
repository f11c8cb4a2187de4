#include <catch2/catch.hpp>

#include <cmath>
#include <limits>
#include <string>

#include <compress/core/error.hpp>
#include <compress/core/static_checks.hpp>
#include <compress/core/tensor.hpp>

using namespace compress;

TEST_CASE("error types derive from compress::error and std::runtime_error", "[core]") {
    CHECK_THROWS_AS(throw shape_error("x"), error);
    CHECK_THROWS_AS(throw value_error("x"), std::runtime_error);
    CHECK_THROWS_WITH(throw format_error("bad header"), "format error: bad header");
    CHECK_THROWS_WITH(throw io_error("cannot open f"), "io error: cannot open f");
}

TEST_CASE("check_finite names the first bad position", "[core]") {
    xt::xtensor<float, 2> w = xt::zeros<float>({3, 4});
    REQUIRE_NOTHROW(detail::check_finite(w, "fc1.weight"));
    w(2, 1) = std::numeric_limits<float>::quiet_NaN();
    w(2, 3) = std::numeric_limits<float>::infinity();
    CHECK_THROWS_AS(detail::check_finite(w, "fc1.weight"), value_error);
    CHECK_THROWS_WITH(detail::check_finite(w, "fc1.weight"),
                      "value error: tensor 'fc1.weight' has a non-finite value (NaN) at (2, 1)");
    w(2, 1) = 0.0f;
    CHECK_THROWS_WITH(detail::check_finite(w), "value error: tensor has a non-finite value (Inf) at (2, 3)");
}

TEST_CASE("check_fraction accepts [0,1] and rejects the rest", "[core]") {
    CHECK_NOTHROW(detail::check_fraction(0.0));
    CHECK_NOTHROW(detail::check_fraction(1.0));
    CHECK_THROWS_AS(detail::check_fraction(-0.01), value_error);
    CHECK_THROWS_AS(detail::check_fraction(1.01), value_error);
    CHECK_THROWS_AS(detail::check_fraction(std::nan("")), value_error);
    CHECK_THROWS_WITH(detail::check_fraction(2.0, "sparsity"),
                      Catch::Matchers::StartsWith("value error: sparsity must be a fraction in [0, 1]"));
}

TEST_CASE("check_rank", "[core]") {
    xt::xtensor<float, 3> t = xt::zeros<float>({2, 2, 2});
    CHECK_NOTHROW(detail::check_rank(t, 3));
    CHECK_THROWS_WITH(detail::check_rank(t, 2, "w"), "shape error: tensor 'w' must have rank 2, got shape [2, 2, 2]");
}

namespace {
struct a_criterion { using policy_kind = policy::criterion; };
struct not_a_policy {};
}  // namespace

TEST_CASE("policy kinds are detected", "[core]") {
    STATIC_REQUIRE(detail::is_policy_v<a_criterion, policy::criterion>);
    STATIC_REQUIRE_FALSE(detail::is_policy_v<a_criterion, policy::grouping>);
    STATIC_REQUIRE_FALSE(detail::is_policy_v<not_a_policy, policy::criterion>);
    STATIC_REQUIRE_FALSE(detail::is_policy_v<int, policy::criterion>);
}
