// compress::linear and sgemm with COMPRESS_USE_OPENMP: the results with 1, 2, 3 and 4 threads
// are bit-identical (each output element is summed in the same order whatever the thread
// count), and they match the double-precision reference. Built with -march=native and OpenMP
// whatever COMPRESS_USE_OPENMP says for the rest of the build (tests/sparse.cmake).
#include <catch2/catch.hpp>

#include <cstddef>
#include <cstring>
#include <string>
#include <vector>

#include <omp.h>

#include <xtensor/xview.hpp>

#include <compress/linear.hpp>

#include "sparse_test_util.hpp"

#if !defined(COMPRESS_USE_OPENMP)
#error "test_linear_openmp must be built with COMPRESS_USE_OPENMP"
#endif

using namespace compress;

namespace {

bool same_bits(const xt::xtensor<float, 2>& a, const xt::xtensor<float, 2>& b) {
    return a.shape() == b.shape() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

/// Runs f() with 1 thread, then with 2, 3 and 4: every result must equal the first bit for bit.
template <class F>
void check_thread_invariant(const char* name, F&& f) {
    const int saved = omp_get_max_threads();
    omp_set_num_threads(1);
    REQUIRE(detail::kernel_threads() == 1);
    const xt::xtensor<float, 2> one = f();
    for (int t : {2, 3, 4}) {
        omp_set_num_threads(t);
        REQUIRE(detail::kernel_threads() == t);
        INFO(name << " with " << t << " threads");
        CHECK(same_bits(f(), one));
    }
    omp_set_num_threads(saved);
}

template <class Arch>
void all_formats_threaded() {
    // 203 rows: 13 row chunks of 16, split unevenly between threads; 70 batch rows: two panel tiles.
    const std::size_t out = 203, in = 157;
    for (std::size_t batch : {std::size_t{1}, std::size_t{6}, std::size_t{70}}) {
        INFO("arch " << detail::arch_name<Arch>() << " batch " << batch);
        const xt::xtensor<float, 2> x = sparse_test::random_dense(batch, in, 7);
        const xt::xtensor<float, 1> bias = xt::view(sparse_test::random_dense(1, out, 8), 0, xt::all());
        const xt::xtensor<float, 2> wd = sparse_test::random_dense(out, in, 9);
        const xt::xtensor<float, 2> ws = sparse_test::random_sparse(out, in, 0.2, 10, 5);
        const xt::xtensor<float, 2> w24 = sparse_test::to_n_of_m<2, 4>(sparse_test::random_dense(out, in, 11));
        const auto c = csr<float>::from_dense(ws);
        const auto b44 = bsr<float, 4, 4>::from_dense(ws);
        const auto b18 = bsr<float, 1, 8>::from_dense(ws);
        const auto n24 = n_of_m_matrix<float, 2, 4>::from_dense(w24);
        std::string report;
        // Each is also checked against the reference, so equality is not between two wrong results.
        CHECK(sparse_test::count_mismatches(x, wd, bias.data(), linear<Arch>(x, wd, bias), report) == 0);
        CHECK(sparse_test::count_mismatches(x, ws, bias.data(), linear<Arch>(x, c, bias), report) == 0);
        CHECK(sparse_test::count_mismatches(x, ws, nullptr, linear<Arch>(x, b44), report) == 0);
        CHECK(sparse_test::count_mismatches(x, w24, nullptr, linear<Arch>(x, n24), report) == 0);
        check_thread_invariant("dense", [&] { return linear<Arch>(x, wd, bias); });
        check_thread_invariant("csr", [&] { return linear<Arch>(x, c, bias); });
        check_thread_invariant("bsr<4,4>", [&] { return linear<Arch>(x, b44, bias); });
        check_thread_invariant("bsr<1,8>", [&] { return linear<Arch>(x, b18); });
        check_thread_invariant("n_of_m<2,4>", [&] { return linear<Arch>(x, n24, bias); });
    }
}

/// sgemm with all four transpose combinations; M > N splits rows, N > M splits columns.
template <class Arch>
void sgemm_threaded() {
    const std::size_t dims[][3] = {{300, 41, 67}, {37, 333, 70}, {1, 517, 90}};
    for (const auto& d : dims) {
        const std::size_t M = d[0], N = d[1], K = d[2];
        for (int ta = 0; ta < 2; ++ta) {
            for (int tb = 0; tb < 2; ++tb) {
                INFO("arch " << detail::arch_name<Arch>() << " M=" << M << " N=" << N << " K=" << K << " ta=" << ta
                             << " tb=" << tb);
                const xt::xtensor<float, 2> a = ta ? sparse_test::random_dense(K, M, 1) : sparse_test::random_dense(M, K, 1);
                const xt::xtensor<float, 2> b = tb ? sparse_test::random_dense(N, K, 2) : sparse_test::random_dense(K, N, 2);
                const xt::xtensor<float, 2> c0 = sparse_test::random_dense(M, N, 3);
                check_thread_invariant("sgemm", [&] {
                    xt::xtensor<float, 2> c = c0;
                    detail::sgemm<Arch>(ta != 0, tb != 0, M, N, K, 0.5f, a.data(), a.shape()[1], b.data(), b.shape()[1],
                                        1.25f, c.data(), N);
                    return c;
                });
            }
        }
    }
}

}  // namespace

TEST_CASE("linear is bit-identical for 1 to 4 OpenMP threads, default arch", "[linear][openmp]") {
    all_formats_threaded<xsimd::default_arch>();
}

TEST_CASE("linear is bit-identical for 1 to 4 OpenMP threads, scalar_arch", "[linear][openmp]") {
    all_formats_threaded<compress::scalar_arch>();
}

TEST_CASE("sgemm is bit-identical for 1 to 4 OpenMP threads", "[gemm][openmp]") {
    sgemm_threaded<xsimd::default_arch>();
    sgemm_threaded<compress::scalar_arch>();
}

TEST_CASE("kernels run single-threaded inside an enclosing parallel region", "[linear][openmp]") {
    omp_set_num_threads(2);
    int inner = 0;
#pragma omp parallel num_threads(2)
    {
#pragma omp single
        inner = detail::kernel_threads();
    }
    CHECK(inner == 1);
}
