// compress::linear for dense, csr, bsr and n_of_m_matrix weights against a double-precision
// reference on odd shapes (1x1, primes, in not a multiple of the vector width, in > 256 for
// 16-bit indices), batches 0, 1, 2, 8, 17 and 70 (two batch tiles; column tiles for N:M), densities from all-zero to
// dense, all-zero rows, with and without bias. Built three times (native / AVX2 / baseline);
// the whole sweep also runs compress::scalar_arch (in the baseline build, see COMPRESS_TEST_SCALAR_SWEEP).
#include <catch2/catch.hpp>

#include <cstddef>
#include <string>
#include <vector>

#include <xtensor/xview.hpp>

#include <compress/linear.hpp>

#include "sparse_test_util.hpp"

// The whole file in its own namespace: it is compiled in one unity TU with the other files of its
// test program (tests/CMakeLists.txt), and its helpers have the same names as theirs.
namespace test_linear_kernels {

using namespace compress;

namespace {

struct shape {
    std::size_t out, in;
};
const shape shapes[] = {{1, 1}, {7, 13}, {17, 31}, {33, 70}, {40, 257}, {5, 3}, {9, 128}};
// 2 and 8 use 8-lane panels on AVX-512; 17 two vectors; 70 a full 64-wide tile plus 6.
const std::size_t batches[] = {0, 1, 2, 8, 17, 70};
const double densities[] = {0.0, 0.1, 0.5, 1.0};

template <class Arch, class Build>
void check_format(const char* name, Build&& build, bool n_of_m_weights = false) {
    (void)n_of_m_weights;
    unsigned seed = 100;
    for (const auto& s : shapes) {
        for (double d : densities) {
            xt::xtensor<float, 2> w = sparse_test::random_sparse(s.out, s.in, d, seed++, 3);
            w = build.prepare(w);
            const auto sw = build(w);
            const xt::xtensor<float, 1> bias = xt::view(sparse_test::random_dense(1, s.out, seed++), 0, xt::all());
            for (std::size_t batch : batches) {
                const xt::xtensor<float, 2> x = sparse_test::random_dense(batch, s.in, seed++);
                std::string report;
                INFO(name << " arch " << detail::arch_name<Arch>() << " out=" << s.out << " in=" << s.in
                          << " density=" << d << " batch=" << batch);
                const auto y = linear<Arch>(x, sw);
                CHECK(sparse_test::count_mismatches(x, w, nullptr, y, report) == 0);
                INFO(report);
                const auto yb = linear<Arch>(x, sw, bias);
                CHECK(sparse_test::count_mismatches(x, w, bias.data(), yb, report) == 0);
                INFO(report);
            }
        }
    }
}

struct dense_build {
    xt::xtensor<float, 2> prepare(const xt::xtensor<float, 2>& w) const { return w; }
    xt::xtensor<float, 2> operator()(const xt::xtensor<float, 2>& w) const { return w; }
};
struct csr_build {
    xt::xtensor<float, 2> prepare(const xt::xtensor<float, 2>& w) const { return w; }
    csr<float> operator()(const xt::xtensor<float, 2>& w) const { return csr<float>::from_dense(w); }
};
template <std::size_t R, std::size_t C>
struct bsr_build {
    xt::xtensor<float, 2> prepare(const xt::xtensor<float, 2>& w) const { return w; }
    bsr<float, R, C> operator()(const xt::xtensor<float, 2>& w) const { return bsr<float, R, C>::from_dense(w); }
};
template <std::size_t N, std::size_t M>
struct nm_build {
    xt::xtensor<float, 2> prepare(const xt::xtensor<float, 2>& w) const { return sparse_test::to_n_of_m<N, M>(w); }
    n_of_m_matrix<float, N, M> operator()(const xt::xtensor<float, 2>& w) const {
        return n_of_m_matrix<float, N, M>::from_dense(w);
    }
};

template <class Arch>
void all_formats() {
    check_format<Arch>("dense", dense_build{});
    check_format<Arch>("csr", csr_build{});
    check_format<Arch>("bsr<4,4>", bsr_build<4, 4>{});
    check_format<Arch>("bsr<1,8>", bsr_build<1, 8>{});
    check_format<Arch>("bsr<3,5>", bsr_build<3, 5>{});
    check_format<Arch>("bsr<2,4>", bsr_build<2, 4>{});
    check_format<Arch>("n_of_m<2,4>", nm_build<2, 4>{});
    check_format<Arch>("n_of_m<3,8>", nm_build<3, 8>{});
    check_format<Arch>("n_of_m<1,3>", nm_build<1, 3>{});
}

}  // namespace

TEST_CASE("linear matches the reference for every format, default arch (" COMPRESS_TEST_ARCH ")", "[linear]") {
    all_formats<xsimd::default_arch>();
}

#if COMPRESS_TEST_SCALAR_SWEEP
// The whole sweep on scalar_arch is the same code in every build: it runs in the baseline build
// (and in the sanitizer build, which has only the native one). See tests/CMakeLists.txt.
TEST_CASE("linear matches the reference for every format, scalar_arch", "[linear]") {
    all_formats<compress::scalar_arch>();
}
#endif

TEST_CASE("csr with 16-bit and 32-bit column indices", "[linear]") {
    // 300 columns need uint16 indices; 70000 columns need uint32.
    for (std::size_t in : {std::size_t{300}, std::size_t{70000}}) {
        xt::xtensor<float, 2> w = sparse_test::random_sparse(3, in, 0.01, 5);
        w(2, in - 1) = 0.75f;  // the last column is used
        const auto s = csr<float>::from_dense(w);
        CHECK(s.index_width() == (in > 65536 ? 4u : 2u));
        for (std::size_t batch : {std::size_t{1}, std::size_t{5}}) {
            const xt::xtensor<float, 2> x = sparse_test::random_dense(batch, in, 6);
            std::string report;
            CHECK(sparse_test::count_mismatches(x, w, nullptr, linear(x, s), report) == 0);
            CHECK(sparse_test::count_mismatches(x, w, nullptr, linear<compress::scalar_arch>(x, s), report) == 0);
        }
    }
}

}  // namespace test_linear_kernels
