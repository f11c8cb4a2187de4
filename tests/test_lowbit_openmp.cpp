// The low-bit kernels built with COMPRESS_USE_OPENMP: every output is summed by one thread in
// a fixed order, so results with 1, 2 and 3 threads must be identical bit for bit — the int32
// sums (W8A8, binary / ternary) and the fp32 outputs of every kernel (W8A8, weight-only int8 /
// int4, binary, ternary, sparse int8 / codebook). Built once with -march=native (the VNNI /
// VPOPCNTDQ paths where the machine has them) and OpenMP; skipped where OpenMP is absent.
#include <catch2/catch.hpp>

#include <cstdint>
#include <cstring>
#include <functional>
#include <random>
#include <vector>

#include <omp.h>
#include <xtensor/xtensor.hpp>

#include <compress/kernels/linear_lowbit.hpp>

using namespace compress;

namespace {

xt::xtensor<float, 2> randn2(std::size_t r, std::size_t c, unsigned seed, float sd = 1.0f) {
    std::mt19937 g(seed);
    std::normal_distribution<float> d(0.0f, sd);
    xt::xtensor<float, 2> t = xt::xtensor<float, 2>::from_shape({r, c});
    for (auto& v : t) v = d(g);
    return t;
}

template <class T>
bool same_bits(const T* a, const T* b, std::size_t n) {
    return std::memcmp(a, b, n * sizeof(T)) == 0;
}

/// Runs f with 1 thread, then with 2 and 3, and checks the outputs are identical bit for bit.
template <class T>
void check_thread_invariant(const char* what, const std::function<std::vector<T>()>& f) {
    INFO(what);
    const int saved = omp_get_max_threads();
    omp_set_num_threads(1);
    const auto ref = f();
    REQUIRE(!ref.empty());
    for (int t : {2, 3}) {
        INFO("threads " << t);
        omp_set_num_threads(t);
        const auto got = f();
        REQUIRE(got.size() == ref.size());
        CHECK(same_bits(got.data(), ref.data(), ref.size()));
    }
    omp_set_num_threads(saved);
}

std::vector<float> flat(const xt::xtensor<float, 2>& y) { return std::vector<float>(y.begin(), y.end()); }

}  // namespace

TEST_CASE("low-bit kernels give the same results with 1, 2 and 3 OpenMP threads", "[lowbit][openmp]") {
    // more output panels / blocks than threads, K not a multiple of 4, 32 or 64
    const std::size_t M = 9, N = 333, K = 203;
    const auto x = randn2(M, K, 1);
    const auto x1 = randn2(1, K, 2);
    const auto w = randn2(N, K, 3, 0.2f);
    xt::xtensor<float, 1> b = xt::xtensor<float, 1>::from_shape({N});
    for (std::size_t n = 0; n < N; ++n) b(n) = 0.01f * static_cast<float>(n % 7);

    // W8A8: the int32 sums and the fp32 outputs
    const auto q8 = quantizer<int8, affine, per_channel<0>>{}.quantize(w);
    const auto packed = prepack(q8);
    check_thread_invariant<std::int32_t>("W8A8 int32 sums", [&] {
        const auto xa = quantize_activations(x);
        std::vector<std::int32_t> c(M * N);
        detail::w8a8_gemm_s32(xa.data(), packed.data(), c.data(), N);
        return c;
    });
    check_thread_invariant<float>("W8A8 linear", [&] { return flat(linear(x, q8, b)); });
    // weight-only int8 / int4 (GEMM and the batch-1 GEMV)
    const auto qg8 = quantizer<int8, symmetric, per_group<32>>{}.quantize(w);
    const auto qg4 = quantizer<int4, symmetric, per_group<32>, minmax, nearest_even, fp16>{}.quantize(w);
    check_thread_invariant<float>("weight-only int8 GEMM", [&] { return flat(linear(x, qg8, b)); });
    check_thread_invariant<float>("weight-only int8 GEMV", [&] { return flat(linear(x1, qg8, b)); });
    check_thread_invariant<float>("weight-only int4 GEMM", [&] { return flat(linear(x, qg4, b)); });
    check_thread_invariant<float>("weight-only int4 GEMV", [&] { return flat(linear(x1, qg4, b)); });
    // binary / ternary: the popcount sums and the fp32 outputs
    const auto qb = quantizer<binary, symmetric, per_channel<0>>{}.quantize(w);
    const auto qt = quantizer<ternary, symmetric, per_channel<0>>{}.quantize(w);
    check_thread_invariant<float>("binary linear", [&] { return flat(linear(x, qb, b)); });
    check_thread_invariant<float>("ternary linear", [&] { return flat(linear(x, qt, b)); });
    check_thread_invariant<std::int32_t>("binary int32 sums", [&] {
        const auto xb = binarize_activations(x);
        detail::bin_weights bw;
        bw.n = N;
        bw.k = K;
        bw.wld = qb.row_stride() / 8;
        bw.bits = qb.row_words(0, 0);
        std::vector<float> alpha(qb.num_scales());
        for (std::size_t i = 0; i < alpha.size(); ++i) alpha[i] = qb.scale(i);
        bw.alpha = alpha.data();
        bw.n_alpha = alpha.size();
        std::vector<std::int32_t> d(M * N);
        detail::bin_gemm_s32(xb.data(), bw, d.data(), N);
        return d;
    });
    // low-bit × sparse
    xt::xtensor<float, 2> wp = w;
    for (std::size_t i = 0; i < wp.size(); ++i)
        if (i % 3 != 0) wp.data()[i] = 0.0f;
    const auto s8 = sparse_int8_weights::from_dense(wp);
    const auto sc = sparse_codebook_weights::from_dense(wp, {-0.3f, -0.1f, 0.0f, 0.1f, 0.3f});
    check_thread_invariant<float>("sparse int8 linear", [&] { return flat(linear(x, s8, b)); });
    check_thread_invariant<float>("sparse codebook linear", [&] { return flat(linear(x, sc, b)); });
}
