// Dense and sparse linear layers, compress vs its peers in the same executable:
//   dense:  compress::linear (own sgemm) vs OpenBLAS cblas_sgemm / cblas_sgemv (one thread;
//           run with OPENBLAS_CORETYPE=SkylakeX, see benchmarks/run_sparse.sh)
//   sparse: compress::linear with csr / bsr<4,4> / bsr<1,8> / n_of_m_matrix<2,4> vs Eigen
//           SparseMatrix<float, RowMajor> x dense.
// Weights [out, in] = 1024 x 1024 and 4096 x 4096, batch 1, 8, 64; unstructured sparsity
// 50/70/80/90/95 %, blocks 4x4 and 1x8 at the same sparsities, 2:4.
//
// Benchmark names: <kernel>/<impl>/<out>x<in>/b<batch>[/s<sparsity%>].
// Eigen gets its best layout prepared outside the timed loop: the activations transposed to a
// row-major [in, batch] matrix, so each nonzero is one vectorized row update. compress times
// the whole call (its own transposition of x included).
#include <benchmark/benchmark.h>

#include <cblas.h>

#include <Eigen/Dense>
#include <Eigen/Sparse>

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <tuple>
#include <vector>

#include <compress/linear.hpp>
#include <compress/sparse.hpp>

namespace {

using compress::bsr;
using compress::csr;
using compress::n_of_m_matrix;

enum class pattern { dense, unstructured, block4x4, block1x8, two_of_four };

/// Seeded weights with the given pattern; sparsity in percent (ignored for dense and 2:4).
const xt::xtensor<float, 2>& weights(pattern p, std::size_t out, std::size_t in, int sparsity) {
    static std::map<std::tuple<int, std::size_t, std::size_t, int>, std::unique_ptr<xt::xtensor<float, 2>>> cache;
    auto key = std::make_tuple(static_cast<int>(p), out, in, sparsity);
    auto it = cache.find(key);
    if (it != cache.end()) return *it->second;
    std::mt19937 rng(static_cast<unsigned>(out * 31 + in * 7 + static_cast<std::size_t>(sparsity)));
    std::uniform_real_distribution<float> u(-1.0f, 1.0f);
    std::uniform_real_distribution<double> keep(0.0, 1.0);
    auto w = std::make_unique<xt::xtensor<float, 2>>(xt::xtensor<float, 2>::from_shape({out, in}));
    for (auto& v : *w) {
        v = u(rng);
        if (v == 0.0f) v = 0.5f;
    }
    const double density = 1.0 - sparsity / 100.0;
    auto zero_block = [&](std::size_t r0, std::size_t c0, std::size_t R, std::size_t C) {
        for (std::size_t r = r0; r < r0 + R; ++r) {
            for (std::size_t c = c0; c < c0 + C; ++c) (*w)(r, c) = 0.0f;
        }
    };
    switch (p) {
        case pattern::dense: break;
        case pattern::unstructured:
            for (auto& v : *w) {
                if (keep(rng) >= density) v = 0.0f;
            }
            break;
        case pattern::block4x4:
        case pattern::block1x8: {
            const std::size_t R = p == pattern::block4x4 ? 4 : 1, C = p == pattern::block4x4 ? 4 : 8;
            for (std::size_t r = 0; r < out; r += R) {
                for (std::size_t c = 0; c < in; c += C) {
                    if (keep(rng) >= density) zero_block(r, c, R, C);
                }
            }
            break;
        }
        case pattern::two_of_four:
            for (std::size_t r = 0; r < out; ++r) {
                for (std::size_t c = 0; c < in; c += 4) {
                    // keep 2 of 4 at random positions
                    std::size_t a = rng() % 4, b = rng() % 3;
                    if (b >= a) ++b;
                    for (std::size_t k = 0; k < 4; ++k) {
                        if (k != a && k != b) (*w)(r, c + k) = 0.0f;
                    }
                }
            }
            break;
    }
    return *cache.emplace(key, std::move(w)).first->second;
}

const xt::xtensor<float, 2>& activations(std::size_t batch, std::size_t in) {
    static std::map<std::pair<std::size_t, std::size_t>, std::unique_ptr<xt::xtensor<float, 2>>> cache;
    auto key = std::make_pair(batch, in);
    auto it = cache.find(key);
    if (it != cache.end()) return *it->second;
    std::mt19937 rng(static_cast<unsigned>(batch * 1000 + in));
    std::uniform_real_distribution<float> u(-1.0f, 1.0f);
    auto x = std::make_unique<xt::xtensor<float, 2>>(xt::xtensor<float, 2>::from_shape({batch, in}));
    for (auto& v : *x) v = u(rng);
    return *cache.emplace(key, std::move(x)).first->second;
}

template <class T>
const T& cached_format(pattern p, std::size_t out, std::size_t in, int s) {
    static std::map<std::tuple<int, std::size_t, std::size_t, int>, std::unique_ptr<T>> cache;
    auto key = std::make_tuple(static_cast<int>(p), out, in, s);
    auto it = cache.find(key);
    if (it != cache.end()) return *it->second;
    auto f = std::make_unique<T>(T::from_dense(weights(p, out, in, s)));
    return *cache.emplace(key, std::move(f)).first->second;
}

using eigen_sparse = Eigen::SparseMatrix<float, Eigen::RowMajor, int>;
using eigen_rowmajor = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

const eigen_sparse& eigen_weights(pattern p, std::size_t out, std::size_t in, int s) {
    static std::map<std::tuple<int, std::size_t, std::size_t, int>, std::unique_ptr<eigen_sparse>> cache;
    auto key = std::make_tuple(static_cast<int>(p), out, in, s);
    auto it = cache.find(key);
    if (it != cache.end()) return *it->second;
    const auto& w = weights(p, out, in, s);
    std::vector<Eigen::Triplet<float>> t;
    for (std::size_t r = 0; r < out; ++r) {
        for (std::size_t c = 0; c < in; ++c) {
            if (w(r, c) != 0.0f) t.emplace_back(static_cast<int>(r), static_cast<int>(c), w(r, c));
        }
    }
    auto m = std::make_unique<eigen_sparse>(static_cast<Eigen::Index>(out), static_cast<Eigen::Index>(in));
    m->setFromTriplets(t.begin(), t.end());
    m->makeCompressed();
    return *cache.emplace(key, std::move(m)).first->second;
}

void set_counters(benchmark::State& state, double weights_touched) {
    state.counters["weights_per_s"] =
        benchmark::Counter(weights_touched, benchmark::Counter::kIsIterationInvariantRate);
}

// ------------------------------------------------------------------ dense

void bm_dense_own(benchmark::State& state, std::size_t out, std::size_t in, std::size_t batch) {
    const auto& w = weights(pattern::dense, out, in, 0);
    const auto& x = activations(batch, in);
    for (auto _ : state) {
        auto y = compress::linear(x, w);
        benchmark::DoNotOptimize(y.data());
    }
    set_counters(state, static_cast<double>(out * in * batch));
}

void bm_dense_openblas(benchmark::State& state, std::size_t out, std::size_t in, std::size_t batch) {
    const auto& w = weights(pattern::dense, out, in, 0);
    const auto& x = activations(batch, in);
    std::vector<float> y(batch * out);
    const int o = static_cast<int>(out), i = static_cast<int>(in), b = static_cast<int>(batch);
    for (auto _ : state) {
        if (batch == 1) {
            cblas_sgemv(CblasRowMajor, CblasNoTrans, o, i, 1.0f, w.data(), i, x.data(), 1, 0.0f, y.data(), 1);
        } else {
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, b, o, i, 1.0f, x.data(), i, w.data(), i, 0.0f,
                        y.data(), o);
        }
        benchmark::DoNotOptimize(y.data());
        benchmark::ClobberMemory();
    }
    set_counters(state, static_cast<double>(out * in * batch));
}

void bm_gemm_own(benchmark::State& state, std::size_t n) {
    const auto& a = weights(pattern::dense, n, n, 0);
    const auto& b = activations(n, n);
    std::vector<float> c(n * n);
    for (auto _ : state) {
        compress::detail::sgemm(false, false, n, n, n, 1.0f, a.data(), n, b.data(), n, 0.0f, c.data(), n);
        benchmark::DoNotOptimize(c.data());
        benchmark::ClobberMemory();
    }
    state.counters["flops"] = benchmark::Counter(2.0 * n * n * n, benchmark::Counter::kIsIterationInvariantRate);
}

void bm_gemm_openblas(benchmark::State& state, std::size_t n) {
    const auto& a = weights(pattern::dense, n, n, 0);
    const auto& b = activations(n, n);
    std::vector<float> c(n * n);
    const int ni = static_cast<int>(n);
    for (auto _ : state) {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, ni, ni, ni, 1.0f, a.data(), ni, b.data(), ni, 0.0f,
                    c.data(), ni);
        benchmark::DoNotOptimize(c.data());
        benchmark::ClobberMemory();
    }
    state.counters["flops"] = benchmark::Counter(2.0 * n * n * n, benchmark::Counter::kIsIterationInvariantRate);
}

// ------------------------------------------------------------------ sparse

template <class Format>
void bm_sparse_own(benchmark::State& state, pattern p, std::size_t out, std::size_t in, std::size_t batch, int s) {
    const auto& w = cached_format<Format>(p, out, in, s);
    const auto& x = activations(batch, in);
    for (auto _ : state) {
        auto y = compress::linear(x, w);
        benchmark::DoNotOptimize(y.data());
    }
    state.counters["bytes"] = static_cast<double>(w.bytes());
    set_counters(state, static_cast<double>(out * in * batch));
}

void bm_sparse_eigen(benchmark::State& state, pattern p, std::size_t out, std::size_t in, std::size_t batch, int s) {
    const auto& w = eigen_weights(p, out, in, s);
    const auto& x = activations(batch, in);
    eigen_rowmajor xt(static_cast<Eigen::Index>(in), static_cast<Eigen::Index>(batch));
    for (std::size_t b = 0; b < batch; ++b) {
        for (std::size_t c = 0; c < in; ++c) xt(static_cast<Eigen::Index>(c), static_cast<Eigen::Index>(b)) = x(b, c);
    }
    eigen_rowmajor y(static_cast<Eigen::Index>(out), static_cast<Eigen::Index>(batch));
    Eigen::VectorXf xv = xt.col(0);
    Eigen::VectorXf yv(static_cast<Eigen::Index>(out));
    for (auto _ : state) {
        if (batch == 1) {
            yv.noalias() = w * xv;
            benchmark::DoNotOptimize(yv.data());
        } else {
            y.noalias() = w * xt;
            benchmark::DoNotOptimize(y.data());
        }
        benchmark::ClobberMemory();
    }
    set_counters(state, static_cast<double>(out * in * batch));
}

std::string shape_name(std::size_t out, std::size_t in, std::size_t batch) {
    return std::to_string(out) + "x" + std::to_string(in) + "/b" + std::to_string(batch);
}

}  // namespace

int main(int argc, char** argv) {
    openblas_set_num_threads(1);
    Eigen::setNbThreads(1);
    const std::size_t sizes[] = {1024, 4096};
    const std::size_t batches[] = {1, 8, 64};
    const int sparsities[] = {50, 70, 80, 90, 95};

    benchmark::RegisterBenchmark("gemm/own/1024", bm_gemm_own, std::size_t{1024})->Unit(benchmark::kMillisecond);
    benchmark::RegisterBenchmark("gemm/openblas/1024", bm_gemm_openblas, std::size_t{1024})
        ->Unit(benchmark::kMillisecond);
    for (std::size_t n : sizes) {
        for (std::size_t b : batches) {
            const std::string sh = shape_name(n, n, b);
            benchmark::RegisterBenchmark(("dense/own/" + sh).c_str(), bm_dense_own, n, n, b)
                ->Unit(benchmark::kMicrosecond);
            benchmark::RegisterBenchmark(("dense/openblas/" + sh).c_str(), bm_dense_openblas, n, n, b)
                ->Unit(benchmark::kMicrosecond);
            for (int s : sparsities) {
                const std::string ss = sh + "/s" + std::to_string(s);
                benchmark::RegisterBenchmark(("csr/own/" + ss).c_str(), bm_sparse_own<csr<float>>,
                                             pattern::unstructured, n, n, b, s)
                    ->Unit(benchmark::kMicrosecond);
                benchmark::RegisterBenchmark(("csr/eigen/" + ss).c_str(), bm_sparse_eigen, pattern::unstructured, n, n,
                                             b, s)
                    ->Unit(benchmark::kMicrosecond);
                benchmark::RegisterBenchmark(("bsr4x4/own/" + ss).c_str(), bm_sparse_own<bsr<float, 4, 4>>,
                                             pattern::block4x4, n, n, b, s)
                    ->Unit(benchmark::kMicrosecond);
                benchmark::RegisterBenchmark(("bsr1x8/own/" + ss).c_str(), bm_sparse_own<bsr<float, 1, 8>>,
                                             pattern::block1x8, n, n, b, s)
                    ->Unit(benchmark::kMicrosecond);
            }
            benchmark::RegisterBenchmark(("nm2:4/own/" + sh + "/s50").c_str(), bm_sparse_own<n_of_m_matrix<float, 2, 4>>,
                                         pattern::two_of_four, n, n, b, 50)
                ->Unit(benchmark::kMicrosecond);
            benchmark::RegisterBenchmark(("nm2:4/eigen/" + sh + "/s50").c_str(), bm_sparse_eigen, pattern::two_of_four,
                                         n, n, b, 50)
                ->Unit(benchmark::kMicrosecond);
        }
    }
    benchmark::Initialize(&argc, argv);
    if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
    return 0;
}
