// Low-bit kernels against their peers, single thread, in one run:
//   OpenBLAS fp32 (sgemm, and sgemv for batch 1), gemmlowp uint8 GEMM (AVX2 kernel, int32
//   output), and the kernels of kernels/int8.hpp, int4.hpp, binary.hpp. PyTorch's oneDNN
//   quantized Linear runs beside it (benchmarks/lowbit_torch.py, same shapes).
// Shapes: batch 1, 8, 64 × (N = K = 4096), and 1024³. Every compress variant includes the
// per-call activation work (quantization / binarization / permutation).
#include <benchmark/benchmark.h>

#include <cstdint>
#include <random>
#include <vector>

#include <cblas.h>

#include <gemmlowp/public/gemmlowp.h>

#include <compress/kernels/binary.hpp>
#include <compress/kernels/int4.hpp>
#include <compress/kernels/int8.hpp>

extern "C" void openblas_set_num_threads(int);

using namespace compress::detail;

namespace {

struct problem {
    std::size_t M, N, K;
};
problem shape_of(const benchmark::State& st) {
    return {static_cast<std::size_t>(st.range(0)), static_cast<std::size_t>(st.range(1)),
            static_cast<std::size_t>(st.range(2))};
}

std::vector<float> randn(std::size_t n, unsigned seed) {
    std::mt19937 g(seed);
    std::normal_distribution<float> d(0.0f, 1.0f);
    std::vector<float> v(n);
    for (auto& x : v) x = d(g);
    return v;
}
std::vector<std::int8_t> rand_s8(std::size_t n, unsigned seed) {
    std::mt19937 g(seed);
    std::uniform_int_distribution<int> d(-127, 127);
    std::vector<std::int8_t> v(n);
    for (auto& x : v) x = static_cast<std::int8_t>(d(g));
    return v;
}

void set_counters(benchmark::State& st, const problem& p) {
    st.counters["GOPS"] = benchmark::Counter(2.0 * double(p.M) * double(p.N) * double(p.K) * double(st.iterations()),
                                             benchmark::Counter::kIsRate, benchmark::Counter::kIs1000);
}

// ---------------------------------------------------------------- peers
void BM_openblas_fp32(benchmark::State& st) {
    const auto p = shape_of(st);
    const auto x = randn(p.M * p.K, 1), w = randn(p.N * p.K, 2);
    std::vector<float> y(p.M * p.N);
    for (auto _ : st) {
        if (p.M == 1) {
            cblas_sgemv(CblasRowMajor, CblasNoTrans, int(p.N), int(p.K), 1.0f, w.data(), int(p.K), x.data(), 1, 0.0f,
                        y.data(), 1);
        } else {
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, int(p.M), int(p.N), int(p.K), 1.0f, x.data(), int(p.K),
                        w.data(), int(p.K), 0.0f, y.data(), int(p.N));
        }
        benchmark::DoNotOptimize(y.data());
        benchmark::ClobberMemory();
    }
    set_counters(st, p);
}

void BM_gemmlowp_u8(benchmark::State& st) {
    const auto p = shape_of(st);
    std::vector<std::uint8_t> a(p.M * p.K), b(p.N * p.K);
    std::mt19937 g(3);
    for (auto& v : a) v = static_cast<std::uint8_t>(g());
    for (auto& v : b) v = static_cast<std::uint8_t>(g());
    std::vector<std::int32_t> c(p.M * p.N);
    gemmlowp::GemmContext ctx;
    ctx.set_max_num_threads(1);
    gemmlowp::MatrixMap<const std::uint8_t, gemmlowp::MapOrder::RowMajor> A(a.data(), int(p.M), int(p.K));
    gemmlowp::MatrixMap<const std::uint8_t, gemmlowp::MapOrder::ColMajor> B(b.data(), int(p.K), int(p.N));
    gemmlowp::MatrixMap<std::int32_t, gemmlowp::MapOrder::RowMajor> C(c.data(), int(p.M), int(p.N));
    const auto pipeline = std::make_tuple();
    for (auto _ : st) {
        gemmlowp::GemmWithOutputPipeline<std::uint8_t, std::int32_t, gemmlowp::DefaultL8R8BitDepthParams>(
            &ctx, A, B, &C, -128, -128, pipeline);
        benchmark::DoNotOptimize(c.data());
        benchmark::ClobberMemory();
    }
    set_counters(st, p);
}

// ---------------------------------------------------------------- W8A8
template <class Ext>
void w8a8_bench(benchmark::State& st) {
    const auto p = shape_of(st);
    const auto x = randn(p.M * p.K, 1);
    const auto w = rand_s8(p.N * p.K, 2);
    std::vector<float> sw(p.N, 0.01f), bias(p.N, 0.5f), y(p.M * p.N);
    const auto packed = pack_w8a8(w.data(), p.N, p.K, p.K, sw.data(), p.N);
    q8_activations qa;
    for (auto _ : st) {
        quantize_activations_dynamic(x.data(), p.M, p.K, p.K, qa);
        w8a8_gemm<xsimd::default_arch, Ext>(qa, packed, bias.data(), y.data(), p.N);
        benchmark::DoNotOptimize(y.data());
        benchmark::ClobberMemory();
    }
    set_counters(st, p);
    st.SetLabel(int_path_name(int8_path<xsimd::default_arch, Ext>()));
}
void BM_compress_w8a8(benchmark::State& st) { w8a8_bench<lowbit_ext_default>(st); }
void BM_compress_w8a8_novnni(benchmark::State& st) { w8a8_bench<lowbit_ext_none>(st); }

// ---------------------------------------------------------------- weight-only
void BM_compress_wo_int8_perchannel(benchmark::State& st) {
    const auto p = shape_of(st);
    const auto x = randn(p.M * p.K, 1);
    const auto w = rand_s8(p.N * p.K, 2);
    std::vector<float> s(p.N, 0.01f), bias(p.N, 0.5f), y(p.M * p.N);
    const group_scales<float> gs{s.data(), p.K, 1};
    for (auto _ : st) {
        wo_int8_gemm(x.data(), p.M, p.K, p.K, w.data(), p.N, p.K, gs, bias.data(), y.data(), p.N);
        benchmark::DoNotOptimize(y.data());
        benchmark::ClobberMemory();
    }
    set_counters(st, p);
}

void BM_compress_wo_int4_g32_fp16(benchmark::State& st) {
    const auto p = shape_of(st);
    const auto x = randn(p.M * p.K, 1);
    std::vector<std::uint8_t> w(p.N * (p.K / 2));
    std::mt19937 g(5);
    for (auto& v : w) v = static_cast<std::uint8_t>(g());
    const std::size_t ng = p.K / 32;
    std::vector<std::uint16_t> s(p.N * ng, float_to_fp16(0.01f));
    std::vector<float> bias(p.N, 0.5f), y(p.M * p.N);
    const group_scales<std::uint16_t> gs{s.data(), 32, ng};
    for (auto _ : st) {
        wo_int4_gemm(x.data(), p.M, p.K, p.K, w.data(), p.N, p.K / 2, gs, bias.data(), y.data(), p.N);
        benchmark::DoNotOptimize(y.data());
        benchmark::ClobberMemory();
    }
    set_counters(st, p);
}

// ---------------------------------------------------------------- binary / ternary
void binary_bench(benchmark::State& st, bool ternary) {
    const auto p = shape_of(st);
    const auto x = randn(p.M * p.K, 1);
    const std::size_t wld = p.K / 64;
    std::vector<std::uint64_t> bits(p.N * wld), nz(p.N * wld);
    std::mt19937_64 g(7);
    for (auto& v : bits) v = g();
    for (auto& v : nz) v = g() | g();
    std::vector<float> alpha(p.N, 0.1f), bias(p.N, 0.5f), y(p.M * p.N);
    bin_weights w;
    w.n = p.N;
    w.k = p.K;
    w.wld = wld;
    w.bits = bits.data();
    w.nonzero = ternary ? nz.data() : nullptr;
    w.alpha = alpha.data();
    w.n_alpha = p.N;
    bin_activations a;
    for (auto _ : st) {
        binarize_activations(x.data(), p.M, p.K, p.K, a);
        bin_gemm(a, w, bias.data(), y.data(), p.N);
        benchmark::DoNotOptimize(y.data());
        benchmark::ClobberMemory();
    }
    set_counters(st, p);
}
void BM_compress_binary(benchmark::State& st) { binary_bench(st, false); }
void BM_compress_ternary(benchmark::State& st) { binary_bench(st, true); }

// ---------------------------------------------------------------- low-bit × sparse (GEMV)
template <bool Codebook>
void sparse_bench(benchmark::State& st) {
    const auto p = shape_of(st);
    const double density = 0.1;  // 90% pruned, as in Deep Compression's fc layers
    std::mt19937 g(9);
    std::uniform_real_distribution<double> u(0, 1);
    std::vector<std::uint32_t> row_ptr{0};
    std::vector<std::uint16_t> cols;
    for (std::size_t n = 0; n < p.N; ++n) {
        for (std::size_t k = 0; k < p.K; ++k)
            if (u(g) < density) cols.push_back(static_cast<std::uint16_t>(k));
        row_ptr.push_back(static_cast<std::uint32_t>(cols.size()));
    }
    const auto codes = rand_s8(cols.size(), 3);
    std::vector<std::uint8_t> idx((cols.size() + 1) / 2);
    for (auto& v : idx) v = static_cast<std::uint8_t>(g());
    const auto x = randn(p.M * p.K, 1);
    std::vector<float> s(p.N, 0.01f), cb(16, 0.1f), bias(p.N, 0.5f), y(p.M * p.N);
    for (auto _ : st) {
        for (std::size_t m = 0; m < p.M; ++m) {
            if (Codebook)
                sparse_codebook4_gemv(x.data() + m * p.K, p.N, row_ptr.data(), cols.data(), idx.data(), cb.data(),
                                      bias.data(), y.data() + m * p.N);
            else
                sparse_q8_gemv(x.data() + m * p.K, p.N, row_ptr.data(), cols.data(), codes.data(), s.data(), p.N,
                               bias.data(), y.data() + m * p.N);
        }
        benchmark::DoNotOptimize(y.data());
        benchmark::ClobberMemory();
    }
    set_counters(st, p);  // dense-equivalent GOPS
}
void BM_compress_sparse10_int8(benchmark::State& st) { sparse_bench<false>(st); }
void BM_compress_sparse10_codebook4(benchmark::State& st) { sparse_bench<true>(st); }

void shapes(benchmark::internal::Benchmark* b) {
    for (int m : {1, 8, 64}) b->Args({m, 4096, 4096});
    b->Args({1024, 1024, 1024});
    b->Unit(benchmark::kMicrosecond)->UseRealTime();
}
void gemv_shapes(benchmark::internal::Benchmark* b) {
    b->Args({1, 4096, 4096});
    b->Unit(benchmark::kMicrosecond)->UseRealTime();
}

}  // namespace

BENCHMARK(BM_openblas_fp32)->Apply(shapes);
BENCHMARK(BM_gemmlowp_u8)->Apply(shapes);
BENCHMARK(BM_compress_w8a8)->Apply(shapes);
BENCHMARK(BM_compress_w8a8_novnni)->Apply(shapes);
BENCHMARK(BM_compress_wo_int8_perchannel)->Apply(shapes);
BENCHMARK(BM_compress_wo_int4_g32_fp16)->Apply(shapes);
BENCHMARK(BM_compress_binary)->Apply(shapes);
BENCHMARK(BM_compress_ternary)->Apply(shapes);
BENCHMARK(BM_compress_sparse10_int8)->Apply(gemv_shapes);
BENCHMARK(BM_compress_sparse10_codebook4)->Apply(gemv_shapes);

int main(int argc, char** argv) {
    openblas_set_num_threads(1);
    benchmark::Initialize(&argc, argv);
    if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
    return 0;
}
