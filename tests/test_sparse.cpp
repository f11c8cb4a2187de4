// Sparse formats: construction from dense tensors and masks, storage layout (hand-computed),
// bytes(), nnz(), to_dense() round trips, and every error promised in docs/sparse.md.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include <xtensor/xarray.hpp>

#include <compress/sparse.hpp>

#include "sparse_test_util.hpp"

using namespace compress;
using Catch::Matchers::Contains;
using bsr22 = bsr<float, 2, 2>;
using bsr44 = bsr<float, 4, 4>;
using nm24 = n_of_m_matrix<float, 2, 4>;

TEST_CASE("csr stores the nonzeros row by row", "[sparse][csr]") {
    const xt::xtensor<float, 2> w = {{0, 2, 0}, {0, 0, 0}, {3, 0, 4}};
    const auto s = csr<float>::from_dense(w);
    CHECK(s.rows() == 3);
    CHECK(s.cols() == 3);
    CHECK(s.nnz() == 3);
    CHECK(s.values() == std::vector<float>{2, 3, 4});
    CHECK(s.row_ptr() == std::vector<std::uint32_t>{0, 1, 1, 3});
    CHECK(s.col(0) == 1);
    CHECK(s.col(1) == 0);
    CHECK(s.col(2) == 2);
    CHECK(s.index_width() == 1);
    // 3 values * 4 B + 3 indices * 1 B + 4 row pointers * 4 B
    CHECK(s.bytes() == 31);
    CHECK(s.density() == Approx(3.0 / 9.0));
    CHECK(s.sparsity() == Approx(6.0 / 9.0));
    CHECK((s.to_dense() == w));
}

TEST_CASE("csr with a mask stores exactly the kept entries", "[sparse][csr]") {
    const xt::xtensor<float, 2> w = {{1, 0, 5}, {2, 3, 0}};
    const auto m = mask<2>::from_flags(xt::xtensor<int, 2>{{1, 1, 0}, {0, 1, 0}});
    const auto s = csr<float>::from_dense(w, m);
    CHECK(s.nnz() == 3);  // the kept zero at (0, 1) is an explicit zero; 5 and 2 are dropped
    CHECK(s.values() == std::vector<float>{1, 0, 3});
    CHECK((s.to_dense() == xt::xtensor<float, 2>{{1, 0, 0}, {0, 3, 0}}));
    const mask<2> wrong({3, 2});
    CHECK_THROWS_AS(csr<float>::from_dense(w, wrong, "fc.weight"), shape_error);
    CHECK_THROWS_WITH(csr<float>::from_dense(w, wrong, "fc.weight"),
                      "shape error: csr::from_dense: mask of shape [3, 2] does not fit tensor 'fc.weight' of shape [2, 3]");
}

TEST_CASE("csr picks the narrowest column index type", "[sparse][csr]") {
    CHECK(csr<float>::from_dense(xt::ones<float>({1, 256})).index_width() == 1);
    CHECK(csr<float>::from_dense(xt::ones<float>({1, 257})).index_width() == 2);
    CHECK(csr<float>::from_dense(xt::ones<float>({1, 65536})).index_width() == 2);
    const auto wide = csr<float>::from_dense(xt::ones<float>({1, 65537}));
    CHECK(wide.index_width() == 4);
    CHECK(wide.col(65536) == 65536);
    CHECK(wide.bytes() == 65537 * 4 + 65537 * 4 + 2 * 4);
}

TEST_CASE("csr rejects bad dense input", "[sparse][csr]") {
    CHECK_THROWS_AS(csr<float>::from_dense(xt::xarray<float>::from_shape({2, 2, 2})), shape_error);
    CHECK_THROWS_WITH(csr<float>::from_dense(xt::xarray<float>::from_shape({4}), "b"),
                      "shape error: csr::from_dense: tensor 'b' must be a 2-d weight [out, in], got shape [4]");
    xt::xtensor<float, 2> w = xt::zeros<float>({2, 2});
    w(1, 0) = std::numeric_limits<float>::quiet_NaN();
    CHECK_THROWS_AS(csr<float>::from_dense(w), value_error);
    CHECK_THROWS_WITH(csr<float>::from_dense(w, "fc"), "value error: tensor 'fc' has a non-finite value (NaN) at (1, 0)");
}

TEST_CASE("csr::from_parts validates hostile arrays", "[sparse][csr]") {
    const auto ok = csr<float>::from_parts(2, 3, {0, 1, 3}, {2, 0, 1}, {1.f, 2.f, 3.f});
    CHECK((ok.to_dense() == xt::xtensor<float, 2>{{0, 0, 1}, {2, 3, 0}}));
    CHECK_THROWS_WITH(csr<float>::from_parts(2, 3, {0, 1}, {2}, {1.f}),
                      "format error: csr::from_parts: row_ptr has 2 entries, a 2-row matrix needs 3");
    CHECK_THROWS_WITH(csr<float>::from_parts(1, 3, {1, 1}, {}, {}),
                      "format error: csr::from_parts: row_ptr[0] must be 0, got 1");
    CHECK_THROWS_WITH(csr<float>::from_parts(1, 3, {0, 1}, {2}, {}),
                      "format error: csr::from_parts: 1 column indices but 0 values");
    CHECK_THROWS_WITH(csr<float>::from_parts(1, 3, {0, 2}, {2}, {1.f}),
                      "format error: csr::from_parts: row_ptr ends at 2 but there are 1 entries");
    // ends at nnz but goes past it in between: must not read past the arrays
    CHECK_THROWS_WITH(csr<float>::from_parts(2, 3, {0, 1, 0}, {}, {}),
                      "format error: csr::from_parts: row_ptr decreases at row 1");
    CHECK_THROWS_WITH(csr<float>::from_parts(2, 3, {0, 2, 1}, {0}, {1.f}),
                      "format error: csr::from_parts: row_ptr decreases at row 1");
    CHECK_THROWS_WITH(csr<float>::from_parts(1, 3, {0, 1}, {3}, {1.f}),
                      "format error: csr::from_parts: column index 3 in row 0 is out of range for 3 columns");
    CHECK_THROWS_WITH(csr<float>::from_parts(1, 3, {0, 2}, {1, 1}, {1.f, 2.f}),
                      "format error: csr::from_parts: column indices of row 0 are not strictly increasing");
    CHECK_THROWS_AS(csr<float>::from_parts(1, 3, {0, 2}, {1, 1}, {1.f, 2.f}), format_error);
}

TEST_CASE("csr::map_values keeps the structure (int8 codes)", "[sparse][csr]") {
    const xt::xtensor<float, 2> w = {{0, 0.5f, 0}, {-1.0f, 0, 0.25f}};
    const auto s = csr<float>::from_dense(w);
    const csr<std::int8_t> q = s.map_values<std::int8_t>([](float v) { return std::lround(v * 100.0f); });
    CHECK(q.values() == std::vector<std::int8_t>{50, -100, 25});
    CHECK(q.row_ptr() == s.row_ptr());
    CHECK(q.bytes() == 3 * 1 + 3 * 1 + 3 * 4);
    CHECK((q.to_dense() == xt::xtensor<std::int8_t, 2>{{0, 50, 0}, {-100, 0, 25}}));
}

TEST_CASE("an empty csr", "[sparse][csr]") {
    const csr<float> e;
    CHECK(e.nnz() == 0);
    CHECK(e.bytes() == 4);
    const auto z = csr<float>::from_dense(xt::zeros<float>({0, 5}));
    CHECK(z.rows() == 0);
    CHECK(z.to_dense().shape()[1] == 5);
}

TEST_CASE("bsr stores whole blocks, padded at the edges", "[sparse][bsr]") {
    // 3 x 5 with 2 x 2 blocks: a 2 x 3 grid of blocks, the last row and column padded.
    const xt::xtensor<float, 2> w = {{1, 0, 0, 0, 0}, {0, 0, 0, 0, 0}, {0, 0, 0, 0, 7}};
    const auto b = bsr<float, 2, 2>::from_dense(w);
    CHECK(b.block_rows() == 2);
    CHECK(b.block_cols() == 3);
    CHECK(b.nnz_blocks() == 2);
    CHECK(b.nnz() == 8);
    CHECK(b.values() == std::vector<float>{1, 0, 0, 0, /* block (1,2): */ 7, 0, 0, 0});
    CHECK(b.block_ptr() == std::vector<std::uint32_t>{0, 1, 2});
    CHECK(b.block_col_indices()[0] == 0);
    CHECK(b.block_col_indices()[1] == 2);
    CHECK(b.bytes() == 8 * 4 + 2 * 1 + 3 * 4);
    // stored weights inside the matrix: 4 + 1 of 15
    CHECK(b.sparsity() == Approx(10.0 / 15.0));
    CHECK((b.to_dense() == w));
}

TEST_CASE("bsr round trip on random block-sparse weights", "[sparse][bsr]") {
    const auto w = sparse_test::random_sparse(13, 29, 0.05, 3);
    CHECK((bsr<float, 4, 4>::from_dense(w).to_dense() == w));
    CHECK((bsr<float, 1, 8>::from_dense(w).to_dense() == w));
    CHECK((bsr<float, 3, 5>::from_dense(w).to_dense() == w));
}

TEST_CASE("bsr with a mask needs whole blocks", "[sparse][bsr]") {
    const xt::xtensor<float, 2> w = {{1, 2, 3, 4}, {5, 6, 7, 8}};
    const auto blocks_mask = mask<2>::from_flags(xt::xtensor<int, 2>{{0, 0, 1, 1}, {0, 0, 1, 1}});
    const auto b = bsr<float, 2, 2>::from_dense(w, blocks_mask);
    CHECK(b.nnz_blocks() == 1);
    CHECK((b.to_dense() == xt::xtensor<float, 2>{{0, 0, 3, 4}, {0, 0, 7, 8}}));
    const auto mixed = mask<2>::from_flags(xt::xtensor<int, 2>{{1, 0, 1, 1}, {0, 0, 1, 1}});
    CHECK_THROWS_AS(bsr22::from_dense(w, mixed), value_error);
    CHECK_THROWS_WITH(bsr22::from_dense(w, mixed, "fc2.weight"),
                      "value error: bsr<2,2>::from_dense: mask of tensor 'fc2.weight' keeps 1 of 4 weights of block "
                      "(0, 0); a blocks<2,2> mask keeps whole blocks");
    CHECK_THROWS_AS(bsr22::from_dense(w, mask<2>({2, 5})), shape_error);
}

TEST_CASE("bsr::from_parts validates hostile arrays", "[sparse][bsr]") {
    // 3x3 with 2x2 blocks: block row 0 holds block column 0, block row 1 block column 1,
    // whose padding (row 3, column 3) is zero.
    const std::vector<float> vals = {1, 2, 3, 4, 5, 0, 0, 0};
    const auto ok = bsr22::from_parts(3, 3, {0, 1, 2}, {0, 1}, vals);
    CHECK((ok.to_dense() == xt::xtensor<float, 2>{{1, 2, 0}, {3, 4, 0}, {0, 0, 5}}));
    const std::string who = "format error: bsr<2,2>::from_parts: ";
    CHECK_THROWS_AS(bsr22::from_parts(3, 3, {0, 1}, {0}, {1, 2, 3, 4}), format_error);
    CHECK_THROWS_WITH(bsr22::from_parts(3, 3, {0, 1}, {0}, {1, 2, 3, 4}),
                      who + "block_ptr has 2 entries, 2 block rows need 3");
    CHECK_THROWS_WITH(bsr22::from_parts(3, 3, {1, 1, 2}, {0, 1}, vals), who + "block_ptr[0] must be 0, got 1");
    CHECK_THROWS_WITH(bsr22::from_parts(3, 3, {0, 1, 1}, {0, 1}, vals),
                      who + "block_ptr ends at 1 but there are 2 block columns");
    CHECK_THROWS_WITH(bsr22::from_parts(3, 3, {0, 1, 2}, {0, 1}, {1, 2, 3, 4, 5, 0, 0}),
                      who + "7 values for 2 blocks of 4");
    CHECK_THROWS_WITH(bsr22::from_parts(3, 3, {0, 3, 2}, {0, 1}, vals), who + "block_ptr decreases at block row 1");
    CHECK_THROWS_WITH(bsr22::from_parts(3, 3, {0, 1, 2}, {0, 2}, vals),
                      who + "block column 2 in block row 1 is out of range for 2 block columns");
    CHECK_THROWS_WITH(bsr22::from_parts(3, 3, {0, 2, 2}, {1, 0}, {1, 0, 2, 0, 3, 4, 5, 6}),
                      who + "block columns of block row 0 are not strictly increasing");
    CHECK_THROWS_WITH(bsr22::from_parts(3, 3, {0, 1, 2}, {0, 1}, {1, 2, 3, 4, 5, 6, 0, 0}),
                      who + "block 1 (block row 1) has a nonzero value in its padding outside the matrix");
}

TEST_CASE("n_of_m_matrix::from_parts validates hostile arrays", "[sparse][n_of_m]") {
    // 2:4, 2-bit positions packed from bit 0: a 1x4 row keeping columns 0 and 2 is the word 0b1000.
    const auto ok = nm24::from_parts(1, 4, {1.5f, -2.f}, {0b1000});
    CHECK((ok.to_dense() == xt::xtensor<float, 2>{{1.5f, 0, -2.f, 0}}));
    const std::string who = "format error: n_of_m_matrix<2,4>::from_parts: ";
    CHECK_THROWS_AS(nm24::from_parts(1, 4, {1.f, 2.f, 3.f}, {0b1000}), format_error);
    CHECK_THROWS_WITH(nm24::from_parts(1, 4, {1.f, 2.f, 3.f}, {0b1000}), who + "3 values, a [1, 4] matrix stores 2");
    CHECK_THROWS_WITH(nm24::from_parts(1, 4, {1.f, 2.f}, {}), who + "0 position words, a [1, 4] matrix has 1");
    // positions 2 then 1
    CHECK_THROWS_WITH(nm24::from_parts(1, 4, {1.f, 2.f}, {0b0110}),
                      who + "row 0, group 0, slot 1: positions are not strictly increasing");
    // a bit set after the row's 4 bits of positions
    CHECK_THROWS_WITH(nm24::from_parts(1, 4, {1.f, 2.f}, {0b11000}), who + "row 0 has bits set after its last position");
    // a 3-wide (last) group cannot hold position 3
    CHECK_THROWS_WITH(nm24::from_parts(1, 3, {1.f, 2.f}, {0b1100}),
                      who + "row 0, group 0, slot 1: position 3 is outside the group of 3 columns");
    // 1x5: the second group is one column wide, so its slot 1 must be position 0 with value 0
    CHECK((nm24::from_parts(1, 5, {1.f, 2.f, 3.f, 0.f}, {0b0100}).to_dense() == xt::xtensor<float, 2>{{1, 2, 0, 0, 3}}));
    CHECK_THROWS_WITH(nm24::from_parts(1, 5, {1.f, 2.f, 3.f, 7.f}, {0b0100}),
                      who + "row 0, group 1, slot 1 lies past the end of the row but is not position 0 with value 0");
}

TEST_CASE("n_of_m_matrix packs 2-bit positions (hand-computed 2:4)", "[sparse][n_of_m]") {
    // group 0 keeps positions 0 and 2; group 1 keeps only position 3 and is padded with a
    // zero at the smallest unused position (0).
    const xt::xtensor<float, 2> w = {{1, 0, 2, 0, 0, 0, 0, 3}};
    const auto s = n_of_m_matrix<float, 2, 4>::from_dense(w);
    CHECK(s.index_bits == 2);
    CHECK(s.groups() == 2);
    CHECK(s.nnz() == 4);
    CHECK(s.values() == std::vector<float>{1, 2, 0, 3});
    // positions 0, 2, 0, 3 -> bits 0 | 2 << 2 | 0 << 4 | 3 << 6
    REQUIRE(s.codes().size() == 1);
    CHECK(s.codes()[0] == 200u);
    CHECK(s.bytes() == 4 * 4 + 8);
    CHECK((s.to_dense() == w));
}

TEST_CASE("n_of_m_matrix round trips across word boundaries and short last groups", "[sparse][n_of_m]") {
    // 2:4 with 70 columns: 18 groups (the last of width 2), 36 2-bit codes -> 2 words per row.
    const auto w24 = sparse_test::to_n_of_m<2, 4>(sparse_test::random_sparse(5, 70, 0.7, 11));
    const auto s24 = n_of_m_matrix<float, 2, 4>::from_dense(w24);
    CHECK(s24.words_per_row() == 2);
    CHECK((s24.to_dense() == w24));
    // 3:8 uses 3-bit codes, which straddle 64-bit words.
    const auto w38 = sparse_test::to_n_of_m<3, 8>(sparse_test::random_sparse(4, 203, 0.6, 12));
    const auto s38 = n_of_m_matrix<float, 3, 8>::from_dense(w38);
    CHECK(s38.index_bits == 3);
    CHECK((s38.to_dense() == w38));
    // 1:3 in a 1-column matrix: the group is narrower than M.
    const xt::xtensor<float, 2> one = {{4.0f}, {0.0f}};
    CHECK((n_of_m_matrix<float, 1, 3>::from_dense(one).to_dense() == one));
}

TEST_CASE("n_of_m_matrix rejects groups with too many kept weights", "[sparse][n_of_m]") {
    const xt::xtensor<float, 2> w = {{1, 1, 0, 0, 1, 1, 1, 0}};
    CHECK_THROWS_AS(nm24::from_dense(w), value_error);
    CHECK_THROWS_WITH(nm24::from_dense(w, "fc"),
                      "value error: n_of_m_matrix<2,4>::from_dense: row 0 of tensor 'fc' has 3 nonzeros in columns "
                      "[4, 8), at most 2 fit (prune with n_of_m<2,4> first)");
    const auto m = mask<2>::from_flags(xt::xtensor<int, 2>{{1, 1, 1, 0, 1, 0, 0, 0}});
    CHECK_THROWS_WITH(nm24::from_dense(w, m),
                      Contains("has 3 kept weights in columns [0, 4)"));
    // A fitting mask keeps explicit zeros in place of dropped weights.
    const auto m24 = mask<2>::from_flags(xt::xtensor<int, 2>{{1, 0, 0, 1, 0, 1, 1, 0}});
    const auto s = n_of_m_matrix<float, 2, 4>::from_dense(w, m24);
    CHECK((s.to_dense() == xt::xtensor<float, 2>{{1, 0, 0, 0, 0, 1, 1, 0}}));
    CHECK_THROWS_AS(nm24::from_dense(w, mask<2>({1, 7})), shape_error);
}

// ------------------------------------------------------------------ cost model

TEST_CASE("expected_speedup is monotone in sparsity", "[sparse][cost]") {
    const std::size_t shapes[][2] = {{64, 64}, {1024, 1024}, {3000, 700}, {4096, 4096}, {8192, 8192}};
    const std::size_t batches[] = {1, 3, 8, 20, 64, 256};
    for (const auto& sh : shapes) {
        for (std::size_t b : batches) {
            double pc = 0.0, p44 = 0.0, p18 = 0.0;
            for (int k = 0; k <= 1000; ++k) {
                const double s = k / 1000.0;
                const double c = expected_speedup<csr<float>>(sh[0], sh[1], b, s);
                const double b44 = expected_speedup<bsr<float, 4, 4>>(sh[0], sh[1], b, s);
                const double b18 = expected_speedup<bsr<float, 1, 8>>(sh[0], sh[1], b, s);
                REQUIRE(std::isfinite(c));
                REQUIRE(c > 0.0);
                CHECK(c >= pc);
                CHECK(b44 >= p44);
                CHECK(b18 >= p18);
                pc = c;
                p44 = b44;
                p18 = b18;
            }
        }
    }
}

TEST_CASE("expected_speedup follows the stored fraction outside the measured range", "[sparse][cost]") {
    // Below 50 % the time scales with the stored weights: half the density at 50 % of dense.
    for (std::size_t b : {std::size_t{1}, std::size_t{8}, std::size_t{64}}) {
        const double at50 = expected_speedup<csr<float>>(1024, 1024, b, 0.5);
        CHECK(expected_speedup<csr<float>>(1024, 1024, b, 0.0) == Approx(at50 * 0.5));
        CHECK(expected_speedup<csr<float>>(1024, 1024, b, 0.25) == Approx(at50 * 0.5 / 0.75));
        // Beyond 95 %: scaled by 0.05 / density, at most 20x.
        const double at95 = expected_speedup<csr<float>>(1024, 1024, b, 0.95);
        CHECK(expected_speedup<csr<float>>(1024, 1024, b, 0.975) == Approx(at95 * 2.0));
        CHECK(expected_speedup<csr<float>>(1024, 1024, b, 1.0) == Approx(at95 * 20.0));
        // Sizes are clamped to the measured 1024² .. 4096².
        CHECK(expected_speedup<csr<float>>(16, 16, b, 0.9) == Approx(expected_speedup<csr<float>>(1024, 1024, b, 0.9)));
    }
    // batch is interpolated in log2(batch): batch 8 lies between batch 1 and 64 results.
    const double s1 = expected_speedup<csr<float>>(4096, 4096, 1, 0.8);
    const double s8 = expected_speedup<csr<float>>(4096, 4096, 8, 0.8);
    const double s64 = expected_speedup<csr<float>>(4096, 4096, 64, 0.8);
    const double s3 = expected_speedup<csr<float>>(4096, 4096, 3, 0.8);
    CHECK(s3 >= std::min(s1, s8) - 1e-12);
    CHECK(s3 <= std::max(s1, s8) + 1e-12);
    CHECK(expected_speedup<csr<float>>(4096, 4096, 1000, 0.8) == Approx(s64));
}

TEST_CASE("expected_speedup of N:M formats follows the kept fraction", "[sparse][cost]") {
    using nm14 = n_of_m_matrix<float, 1, 4>;
    const double s24 = expected_speedup<nm24>(4096, 4096, 64, 0.5);
    // The sparsity argument is checked but the format fixes it.
    CHECK(expected_speedup<nm24>(4096, 4096, 64, 0.1) == Approx(s24));
    CHECK(expected_speedup<nm14>(4096, 4096, 64, 0.75) == Approx(2.0 * s24));
    CHECK(expected_speedup<n_of_m_matrix<float, 1, 2>>(4096, 4096, 64, 0.5) == Approx(s24));
}

TEST_CASE("expected_speedup of a built matrix uses its shape and stored fraction", "[sparse][cost]") {
    const auto w = sparse_test::random_sparse(40, 50, 0.2, 5);
    const auto c = csr<float>::from_dense(w);
    CHECK(expected_speedup(c, 8) == Approx(expected_speedup<csr<float>>(40, 50, 8, c.sparsity())));
    const auto b = bsr<float, 4, 4>::from_dense(w);
    CHECK(expected_speedup(b, 1) == Approx(expected_speedup<bsr<float, 4, 4>>(40, 50, 1, b.sparsity())));
    CHECK(expected_faster(c, 8) == (expected_speedup(c, 8) > 1.0));
    CHECK(expected_faster(c, 8, 1e9) == false);
    const auto n = nm24::from_dense(sparse_test::to_n_of_m<2, 4>(w));
    CHECK(expected_speedup(n, 64) == Approx(expected_speedup<nm24>(40, 50, 64, 0.5)));
}

TEST_CASE("expected_faster compares with the margin", "[sparse][cost]") {
    const double s = expected_speedup<csr<float>>(4096, 4096, 64, 0.9);
    CHECK(expected_faster<csr<float>>(4096, 4096, 64, 0.9) == (s > 1.0));
    CHECK(expected_faster<csr<float>>(4096, 4096, 64, 0.9, s * 0.99));
    CHECK_FALSE(expected_faster<csr<float>>(4096, 4096, 64, 0.9, s * 1.01));
    // Empty weights or batches: nothing to gain or lose.
    CHECK(expected_speedup<csr<float>>(0, 4096, 64, 0.9) == 1.0);
    CHECK(expected_speedup<bsr<float, 4, 4>>(4096, 4096, 0, 0.9) == 1.0);
}

TEST_CASE("expected_speedup rejects a sparsity outside [0, 1]", "[sparse][cost]") {
    CHECK_THROWS_AS(expected_speedup<csr<float>>(64, 64, 1, 1.5), value_error);
    CHECK_THROWS_WITH(expected_speedup<csr<float>>(64, 64, 1, 1.5),
                      "value error: expected_speedup<csr>: sparsity must be a fraction in [0, 1], got 1.500000");
    CHECK_THROWS_WITH(expected_faster<bsr44>(64, 64, 1, -0.25),
                      "value error: expected_speedup<bsr>: sparsity must be a fraction in [0, 1], got -0.250000");
    CHECK_THROWS_AS(expected_speedup<nm24>(64, 64, 1, std::nan("")), value_error);
    CHECK_THROWS_WITH(expected_speedup<nm24>(64, 64, 1, std::nan("")),
                      Contains("expected_speedup<n_of_m_matrix>: sparsity must be a fraction in [0, 1], got"));
    // Even for an empty weight the argument is checked.
    CHECK_THROWS_AS(expected_speedup<csr<float>>(0, 0, 0, 2.0), value_error);
}
