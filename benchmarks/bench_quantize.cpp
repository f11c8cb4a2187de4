// Quantization speed: per-channel int8 quantization of a 4096x4096 fp32 tensor including the
// observer pass (compare with torch.quantize_per_channel + PerChannelMinMaxObserver in
// benchmarks/torch_quantize.py), the quantize pass alone against this machine's memory
// bandwidth (a stream read and a memcpy of the same tensor), and the other formats.
#include <benchmark/benchmark.h>

#include <cstring>
#include <random>
#include <vector>

#include <compress/quantize.hpp>

namespace {

constexpr std::size_t R = 4096, C = 4096;

const xt::xtensor<float, 2>& weights() {
    static const xt::xtensor<float, 2> w = [] {
        xt::xtensor<float, 2> t = xt::xtensor<float, 2>::from_shape({R, C});
        std::mt19937 rng(1);
        std::normal_distribution<float> nd(0.0f, 1.0f);
        for (auto& v : t) v = nd(rng);
        return t;
    }();
    return w;
}

void set_bytes(benchmark::State& state, std::size_t bytes_per_iter) {
    state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations()) * static_cast<std::int64_t>(bytes_per_iter));
}

template <class Q>
void bm_quantize(benchmark::State& state) {
    const auto& w = weights();
    const Q q;
    for (auto _ : state) {
        auto r = q.quantize(w);
        benchmark::DoNotOptimize(r.codes());
        benchmark::ClobberMemory();
    }
    set_bytes(state, w.size() * sizeof(float));
}

/// The quantize pass alone (codes from fixed per-channel scales; the loop quantize() runs
/// after its observer pass): reads 64 MiB of floats, writes 16 MiB of int8 codes.
void BM_int8_quantize_pass(benchmark::State& state) {
    const auto& w = weights();
    const auto q0 = compress::quantizer<compress::int8, compress::symmetric, compress::per_channel<0>>{}.quantize(w);
    std::vector<float> inv(R);
    for (std::size_t r = 0; r < R; ++r) inv[r] = 1.0f / q0.scale(r);
    std::vector<std::uint8_t> out(R * C);
    std::vector<std::int32_t> scratch(C);
    for (auto _ : state) {
        for (std::size_t r = 0; r < R; ++r) {
            compress::detail::span_encode_nearest<>(w.data() + r * C, C, inv[r], -128.0f, 127.0f, 0, scratch.data());
            compress::detail::narrow_to_bytes(scratch.data(), C, out.data() + r * C);
        }
        benchmark::DoNotOptimize(out.data());
        benchmark::ClobberMemory();
    }
    set_bytes(state, R * C * (sizeof(float) + 1));
}

/// The observer pass alone: per-row min/max with non-finite detection (reads 64 MiB).
void BM_int8_observer_pass(benchmark::State& state) {
    const auto& w = weights();
    std::vector<float> lo(R), hi(R);
    for (auto _ : state) {
        for (std::size_t r = 0; r < R; ++r) {
            lo[r] = std::numeric_limits<float>::infinity();
            hi[r] = -lo[r];
            benchmark::DoNotOptimize(compress::detail::span_minmax<>(w.data() + r * C, C, lo[r], hi[r]));
        }
        benchmark::ClobberMemory();
    }
    set_bytes(state, R * C * sizeof(float));
}

/// Memory bandwidth reference: a SIMD sum over the same 64 MiB (read only).
void BM_bandwidth_read(benchmark::State& state) {
    const auto& w = weights();
    using B = xsimd::batch<float>;
    for (auto _ : state) {
        B a0(0.0f), a1(0.0f), a2(0.0f), a3(0.0f);
        const float* p = w.data();
        for (std::size_t i = 0; i + 4 * B::size <= w.size(); i += 4 * B::size) {
            a0 += B::load_aligned(p + i);
            a1 += B::load_aligned(p + i + B::size);
            a2 += B::load_aligned(p + i + 2 * B::size);
            a3 += B::load_aligned(p + i + 3 * B::size);
        }
        benchmark::DoNotOptimize(xsimd::hadd(a0 + a1 + a2 + a3));
    }
    set_bytes(state, w.size() * sizeof(float));
}

/// Memory bandwidth reference: memcpy of 64 MiB (counted as 128 MiB moved: read + write).
void BM_bandwidth_memcpy(benchmark::State& state) {
    const auto& w = weights();
    std::vector<float> dst(w.size());
    for (auto _ : state) {
        std::memcpy(dst.data(), w.data(), w.size() * sizeof(float));
        benchmark::DoNotOptimize(dst.data());
        benchmark::ClobberMemory();
    }
    set_bytes(state, 2 * w.size() * sizeof(float));
}

using namespace compress;
BENCHMARK_TEMPLATE(bm_quantize, quantizer<int8, symmetric, per_channel<0>>)->Name("int8_symmetric_per_channel")->Unit(benchmark::kMillisecond);
BENCHMARK_TEMPLATE(bm_quantize, quantizer<uint8, affine, per_channel<0>>)->Name("uint8_affine_per_channel")->Unit(benchmark::kMillisecond);
BENCHMARK_TEMPLATE(bm_quantize, quantizer<int8, symmetric, per_tensor>)->Name("int8_symmetric_per_tensor")->Unit(benchmark::kMillisecond);
BENCHMARK_TEMPLATE(bm_quantize, quantizer<int4, symmetric, per_group<32>, minmax, nearest_even, fp16>)->Name("int4_per_group32_fp16")->Unit(benchmark::kMillisecond);
BENCHMARK_TEMPLATE(bm_quantize, quantizer<binary, symmetric, per_channel<0>>)->Name("binary_per_channel")->Unit(benchmark::kMillisecond);
BENCHMARK(BM_int8_quantize_pass)->Name("int8_quantize_pass")->Unit(benchmark::kMillisecond);
BENCHMARK(BM_int8_observer_pass)->Name("int8_observer_pass")->Unit(benchmark::kMillisecond);
BENCHMARK(BM_bandwidth_read)->Name("bandwidth_read")->Unit(benchmark::kMillisecond);
BENCHMARK(BM_bandwidth_memcpy)->Name("bandwidth_memcpy")->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
