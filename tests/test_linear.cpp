// compress::linear: shape errors (type and message) for every weight representation, and the
// documented copy of non-contiguous, column-major or lazy inputs.
#include <catch2/catch.hpp>

#include <string>

#include <xtensor/xarray.hpp>
#include <xtensor/xview.hpp>

#include <compress/linear.hpp>

#include "sparse_test_util.hpp"

using namespace compress;
using bsr18 = bsr<float, 1, 8>;
using bsr44 = bsr<float, 4, 4>;
using nm24 = n_of_m_matrix<float, 2, 4>;

TEST_CASE("linear rejects mismatched inner dimensions", "[linear]") {
    const xt::xtensor<float, 2> x = xt::ones<float>({2, 5});
    const xt::xtensor<float, 2> w = xt::ones<float>({3, 4});
    CHECK_THROWS_AS(linear(x, w), shape_error);
    CHECK_THROWS_WITH(linear(x, w), "shape error: linear(x, W): input x of shape [2, 5] has 5 features but the "
                                    "weight [3, 4] expects 4");
    CHECK_THROWS_WITH(linear(x, csr<float>::from_dense(w)),
                      "shape error: linear(x, csr): input x of shape [2, 5] has 5 features but the weight [3, 4] "
                      "expects 4");
    CHECK_THROWS_WITH(linear(x, bsr18::from_dense(w)),
                      "shape error: linear(x, bsr): input x of shape [2, 5] has 5 features but the weight [3, 4] "
                      "expects 4");
    CHECK_THROWS_AS(linear(x, nm24::from_dense(xt::xtensor<float, 2>(xt::zeros<float>({3, 4})))),
                    shape_error);
}

TEST_CASE("linear rejects a bias of the wrong length or rank", "[linear]") {
    const xt::xtensor<float, 2> x = xt::ones<float>({2, 4});
    const xt::xtensor<float, 2> w = xt::ones<float>({3, 4});
    const xt::xtensor<float, 1> b2 = {1.0f, 2.0f};
    CHECK_THROWS_AS(linear(x, w, b2), shape_error);
    CHECK_THROWS_WITH(linear(x, w, b2), "shape error: linear(x, W, bias): bias of shape [2] does not fit 3 output "
                                        "features (expected [3])");
    CHECK_THROWS_WITH(linear(x, csr<float>::from_dense(w), b2),
                      "shape error: linear(x, csr, bias): bias of shape [2] does not fit 3 output features (expected [3])");
    CHECK_THROWS_WITH(linear(x, bsr44::from_dense(w), b2),
                      "shape error: linear(x, bsr, bias): bias of shape [2] does not fit 3 output features (expected [3])");
    CHECK_THROWS_WITH(linear(x, nm24::from_dense(xt::xtensor<float, 2>(xt::zeros<float>({3, 4}))), b2),
                      "shape error: linear(x, n_of_m_matrix, bias): bias of shape [2] does not fit 3 output features "
                      "(expected [3])");
    const xt::xarray<float> b_rank2 = xt::ones<float>({1, 3});
    CHECK_THROWS_AS(linear(x, w, b_rank2), shape_error);
}

TEST_CASE("linear rejects wrong ranks", "[linear]") {
    const xt::xtensor<float, 2> w = xt::ones<float>({3, 4});
    const xt::xarray<float> x1 = xt::ones<float>({4});
    CHECK_THROWS_AS(linear(x1, w), shape_error);
    CHECK_THROWS_WITH(linear(x1, csr<float>::from_dense(w)),
                      "shape error: linear(x, csr): input x must be 2-d [batch, in_features], got shape [4]");
    const xt::xarray<float> x3 = xt::ones<float>({2, 2, 4});
    CHECK_THROWS_AS(linear(x3, w), shape_error);
    const xt::xarray<float> w1 = xt::ones<float>({4});
    CHECK_THROWS_WITH(linear(xt::xtensor<float, 2>(xt::ones<float>({2, 4})), w1),
                      "shape error: linear(x, W): weight W must be 2-d [out_features, in_features], got shape [4]");
}

TEST_CASE("linear copies non-contiguous, column-major and lazy inputs", "[linear]") {
    const auto w = sparse_test::random_sparse(6, 9, 0.5, 21);
    const auto big = sparse_test::random_dense(5, 18, 22);
    // Every other column of `big`: a strided view.
    const auto xv = xt::view(big, xt::all(), xt::range(0, 18, 2));
    const xt::xtensor<float, 2> x = xv;
    std::string report;
    CHECK(sparse_test::count_mismatches(x, w, nullptr, linear(xv, w), report) == 0);
    CHECK(sparse_test::count_mismatches(x, w, nullptr, linear(xv, csr<float>::from_dense(w)), report) == 0);
    xt::xtensor<float, 2, xt::layout_type::column_major> xc = x;
    CHECK(sparse_test::count_mismatches(x, w, nullptr, linear(xc, bsr<float, 2, 2>::from_dense(w)), report) == 0);
    const xt::xtensor<float, 2> x2 = 2.0f * x;
    CHECK(sparse_test::count_mismatches(x2, w, nullptr, linear(2.0f * x, w), report) == 0);
    // A weight given as a view is copied as well.
    const auto wt = sparse_test::random_dense(9, 6, 23);
    const xt::xtensor<float, 2> wtt = xt::transpose(wt);
    CHECK(sparse_test::count_mismatches(x, wtt, nullptr, linear(x, xt::transpose(wt)), report) == 0);
}

TEST_CASE("linear hand-computed with bias", "[linear]") {
    // x = [1 2], W = [[1 0], [0 3], [2 2]], b = [0.5 0 -1]  ->  [1.5 6 5]
    const xt::xtensor<float, 2> x = {{1, 2}};
    const xt::xtensor<float, 2> w = {{1, 0}, {0, 3}, {2, 2}};
    const xt::xtensor<float, 1> b = {0.5f, 0.0f, -1.0f};
    const xt::xtensor<float, 2> want = {{1.5f, 6.0f, 5.0f}};
    CHECK((linear(x, w, b) == want));
    CHECK((linear(x, csr<float>::from_dense(w), b) == want));
    CHECK((linear(x, bsr<float, 2, 2>::from_dense(w), b) == want));
    CHECK((linear<scalar_arch>(x, n_of_m_matrix<float, 1, 2>::from_dense(xt::xtensor<float, 2>{{1, 0}, {0, 3}, {2, 0}}), b) ==
           xt::xtensor<float, 2>{{1.5f, 6.0f, 1.0f}}));
}

TEST_CASE("linear names the overload and the shapes in every shape error", "[linear]") {
    const xt::xtensor<float, 2> w = xt::zeros<float>({3, 4});
    const xt::xarray<float> x3 = xt::ones<float>({2, 2, 4});
    CHECK_THROWS_WITH(linear(x3, w), "shape error: linear(x, W): input x must be 2-d [batch, in_features], got shape "
                                     "[2, 2, 4]");
    CHECK_THROWS_WITH(linear(x3, bsr44::from_dense(w)),
                      "shape error: linear(x, bsr): input x must be 2-d [batch, in_features], got shape [2, 2, 4]");
    CHECK_THROWS_AS(linear(x3, nm24::from_dense(w)), shape_error);
    CHECK_THROWS_WITH(linear(x3, nm24::from_dense(w)),
                      "shape error: linear(x, n_of_m_matrix): input x must be 2-d [batch, in_features], got shape "
                      "[2, 2, 4]");
    const xt::xtensor<float, 2> x5 = xt::ones<float>({1, 5});
    CHECK_THROWS_WITH(linear(x5, nm24::from_dense(w)),
                      "shape error: linear(x, n_of_m_matrix): input x of shape [1, 5] has 5 features but the weight "
                      "[3, 4] expects 4");
    // An empty batch with the wrong width is still a mismatch.
    const xt::xtensor<float, 2> x0 = xt::zeros<float>({0, 5});
    CHECK_THROWS_AS(linear(x0, csr<float>::from_dense(w)), shape_error);
    const xt::xtensor<float, 2> x = xt::ones<float>({2, 4});
    const xt::xarray<float> b_rank2 = xt::ones<float>({1, 3});
    CHECK_THROWS_WITH(linear(x, w, b_rank2), "shape error: linear(x, W, bias): bias of shape [1, 3] does not fit 3 "
                                             "output features (expected [3])");
    CHECK_THROWS_WITH(linear(x, bsr18::from_dense(w), xt::xtensor<float, 1>(xt::ones<float>({4}))),
                      "shape error: linear(x, bsr, bias): bias of shape [4] does not fit 3 output features (expected [3])");
}
