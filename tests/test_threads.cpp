// Thread safety (issue 10): kernels, quantizers, pruning and file readers called from several
// threads at once, on shared read-only inputs (one shared const quantizer, one shared opened
// safetensors file), give exactly the results of a single-threaded run. Built normally in
// `make test`, and with -fsanitize=thread by `make tsan`, which reports any data race.
#include <catch2/catch.hpp>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <map>
#include <cstdint>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <compress/io.hpp>
#include <compress/kernels/binary.hpp>
#include <compress/kernels/gemm.hpp>
#include <compress/kernels/int4.hpp>
#include <compress/kernels/int8.hpp>
#include <compress/prune.hpp>
#include <compress/quantize.hpp>

#include "test_random.hpp"

using namespace compress;

namespace {

constexpr int threads = 4;
constexpr int iterations = 3;

using test_random::normal_matrix;

/// Runs `work(thread_index)` on `threads` threads started together; every call must return a
/// value equal to `expected`. Returns the number of mismatches (checked on the main thread:
/// Catch2 assertions are not thread-safe).
template <class R, class F>
int run_concurrently(const R& expected, F work) {
    std::atomic<int> mismatches{0};
    std::atomic<int> ready{0};
    std::vector<std::thread> pool;
    for (int t = 0; t < threads; ++t) {
        pool.emplace_back([&, t] {
            ready.fetch_add(1);
            while (ready.load() < threads) std::this_thread::yield();
            for (int i = 0; i < iterations; ++i) {
                if (!(work(t) == expected)) mismatches.fetch_add(1);
            }
        });
    }
    for (auto& th : pool) th.join();
    return mismatches.load();
}

}  // namespace

TEST_CASE("threads: a shared const quantizer quantizes identically from several threads", "[threads][quantize]") {
    const auto w = normal_matrix(48, 160, 1);
    const quantizer<int8, symmetric, per_channel<0>> q8;
    const quantizer<int4, affine, per_group<32>> q4;
    const quantizer<fp8_e4m3, symmetric, per_channel<0>> qf8;
    const auto e8 = q8.quantize(w);
    const auto e4 = q4.quantize(w);
    const auto ef8 = qf8.quantize(w);
    CHECK(run_concurrently(e8, [&](int) { return q8.quantize(w); }) == 0);
    CHECK(run_concurrently(e4, [&](int) { return q4.quantize(w); }) == 0);
    CHECK(run_concurrently(ef8, [&](int) { return qf8.quantize(w); }) == 0);
    const auto d4 = e4.dequantize();
    CHECK(run_concurrently(d4, [&](int) { return xt::xtensor<float, 2>(e4.dequantize()); }) == 0);
    // calibrating quantizers are stateful: one per thread, each gives the single-threaded result
    quantizer<int8, affine, per_tensor, moving_average_minmax> ref;
    ref.observe(w);
    ref.observe(w * 0.5f);
    const auto eo = ref.fake_quantize(w);
    CHECK(run_concurrently(eo, [&](int) {
              quantizer<int8, affine, per_tensor, moving_average_minmax> mine;
              mine.observe(w);
              mine.observe(w * 0.5f);
              return xt::xtensor<float, 2>(mine.fake_quantize(w));
          }) == 0);
}

TEST_CASE("threads: pruning from several threads gives identical masks", "[threads][prune]") {
    const auto w = normal_matrix(64, 128, 2);
    const auto m1 = compute_mask<magnitude>(w, 0.7);
    const auto m2 = compute_mask<magnitude, n_of_m<2, 4>>(w);
    const auto m3 = compute_mask<magnitude, rows<l2>>(w, 0.25);
    CHECK(run_concurrently(m1, [&](int) { return compute_mask<magnitude>(w, 0.7); }) == 0);
    CHECK(run_concurrently(m2, [&](int) { return compute_mask<magnitude, n_of_m<2, 4>>(w); }) == 0);
    CHECK(run_concurrently(m3, [&](int) { return compute_mask<magnitude, rows<l2>>(w, 0.25); }) == 0);
    const auto big = normal_matrix(300, 300, 3);  // large enough for the radix selection path
    const auto mb = compute_mask<magnitude>(big, 0.9);
    CHECK(run_concurrently(mb, [&](int) { return compute_mask<magnitude>(big, 0.9); }) == 0);
}

TEST_CASE("threads: low-bit and dense kernels from several threads give identical outputs", "[threads][kernels]") {
    using namespace compress::detail;
    // sizes through a volatile: with compile-time constants g++ 12 -O3 reports a bogus
    // -Waggressive-loop-optimizations in the scalar tail of row_absmax (kernels/int8.hpp)
    static volatile std::size_t sizes[3] = {6, 70, 200};
    const std::size_t M = sizes[0], N = sizes[1], K = sizes[2];
    const auto x = normal_matrix(M, K, 4);
    const auto wf = normal_matrix(N, K, 5);
    std::vector<std::int8_t> w8(N * K);
    std::vector<std::uint8_t> w4(N * ((K + 1) / 2), 0);
    for (std::size_t j = 0; j < N * K; ++j) {
        w8[j] = static_cast<std::int8_t>(static_cast<int>(wf.data()[j] * 40.0f));
        const int c = std::max(-8, std::min(7, static_cast<int>(wf.data()[j] * 4.0f)));
        w4[(j / K) * ((K + 1) / 2) + (j % K) / 2] |= static_cast<std::uint8_t>((unsigned(c) & 0xFu) << ((j % K) % 2 ? 4 : 0));
    }
    std::vector<float> scales(N * 7, 0.01f), bias(N, 0.5f);
    const auto packed = pack_w8a8(w8.data(), N, K, K, scales.data(), N);
    auto w8a8 = [&](int) {
        q8_activations a;
        quantize_activations_dynamic(x.data(), M, K, K, a);
        std::vector<float> y(M * N);
        w8a8_gemm(a, packed, bias.data(), y.data(), N);
        return y;
    };
    auto wo4 = [&](int) {
        std::vector<float> y(M * N);
        wo_int4_gemm(x.data(), M, K, K, w4.data(), N, (K + 1) / 2, group_scales<float>{scales.data(), 32, 7}, bias.data(),
                     y.data(), N);
        return y;
    };
    auto wo8 = [&](int) {
        std::vector<float> y(M * N);
        wo_int8_gemm(x.data(), M, K, K, w8.data(), N, K, group_scales<float>{scales.data(), 32, 7}, bias.data(), y.data(), N);
        return y;
    };
    auto gemm = [&](int) {
        std::vector<float> y(M * N, 0.0f);
        sgemm(false, true, M, N, K, 1.0f, x.data(), K, wf.data(), K, 0.0f, y.data(), N);
        return y;
    };
    auto bin = [&](int) {
        bin_activations a;
        binarize_activations(x.data(), M, K, K, a);
        const std::size_t wld = (K + 63) / 64;
        std::vector<std::uint64_t> bits(N * wld, 0);
        for (std::size_t n = 0; n < N; ++n)
            for (std::size_t k = 0; k < K; ++k)
                if (wf(n, k) >= 0.0f) bits[n * wld + k / 64] |= std::uint64_t(1) << (k % 64);
        bin_weights w;
        w.n = N;
        w.k = K;
        w.wld = wld;
        w.bits = bits.data();
        w.alpha = scales.data();
        w.n_alpha = N;
        std::vector<std::int32_t> d(M * N);
        bin_gemm_s32(a, w, d.data(), N);
        return d;
    };
    CHECK(run_concurrently(w8a8(0), w8a8) == 0);
    CHECK(run_concurrently(wo4(0), wo4) == 0);
    CHECK(run_concurrently(wo8(0), wo8) == 0);
    CHECK(run_concurrently(gemm(0), gemm) == 0);
    CHECK(run_concurrently(bin(0), bin) == 0);
}

TEST_CASE("threads: one opened safetensors file read from several threads", "[threads][io]") {
    std::map<std::string, io::tensor> tensors;
    for (int i = 0; i < 5; ++i) tensors["t" + std::to_string(i)] = normal_matrix(20, 30 + i, 10u + unsigned(i));
    const auto f = io::read_safetensors(io::to_safetensors_bytes(tensors));
    const auto expected = f.get<float, 2>("t3");
    CHECK(run_concurrently(expected, [&](int) { return f.get<float, 2>("t3"); }) == 0);
    // atomic writes from several threads to different files, then reads of the results
    CHECK(run_concurrently(true, [&](int t) {
              const std::string path = "threads_write_" + std::to_string(t) + ".safetensors";
              io::save_safetensors(path, tensors);
              const auto g = io::load_safetensors(path);
              const bool same = io::tensor(g.view("t2")) == tensors.at("t2");
              std::remove(path.c_str());
              return same;
          }) == 0);
}
