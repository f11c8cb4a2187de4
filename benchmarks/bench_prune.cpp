// Pruning speed on a 4096 x 4096 float weight (PyTorch layout), single thread. The PyTorch
// peers (torch.nn.utils.prune) run side by side in benchmarks/prune_torch.py; run_prune.sh
// runs both and writes the ratios into docs/results.md.
#include <benchmark/benchmark.h>

#include <random>

#include <compress/prune.hpp>

namespace {
const xt::xtensor<float, 2>& weights() {
    static const xt::xtensor<float, 2> w = [] {
        xt::xtensor<float, 2> t = xt::xtensor<float, 2>::from_shape({4096, 4096});
        std::mt19937 rng(0);
        std::normal_distribution<float> nd(0.f, 0.02f);
        for (auto& v : t) v = nd(rng);
        return t;
    }();
    return w;
}

// prune<...> on a fresh copy each iteration (the copy is not timed): the mask is computed and
// the weights are zeroed in place, as torch's prune functions compute the mask and the
// pruned weight.
template <class Criterion, class Grouping>
void prune_fresh(benchmark::State& state, double amount) {
    xt::xtensor<float, 2> w = weights();
    for (auto _ : state) {
        state.PauseTiming();
        std::copy(weights().begin(), weights().end(), w.begin());
        state.ResumeTiming();
        auto m = compress::prune<Criterion, Grouping>(w, amount);
        benchmark::DoNotOptimize(m.data());
        benchmark::ClobberMemory();
    }
    state.SetItemsProcessed(static_cast<int64_t>(state.iterations()) * static_cast<int64_t>(weights().size()));
}

void BM_l1_unstructured_90(benchmark::State& s) { prune_fresh<compress::magnitude, compress::unstructured>(s, 0.9); }
void BM_ln_structured_l2_dim0_50(benchmark::State& s) { prune_fresh<compress::magnitude, compress::rows<compress::l2>>(s, 0.5); }
void BM_ln_structured_l1_dim1_50(benchmark::State& s) { prune_fresh<compress::magnitude, compress::columns<compress::l1>>(s, 0.5); }
void BM_n_of_m_2_4(benchmark::State& s) { prune_fresh<compress::magnitude, compress::n_of_m<2, 4>>(s, 0.5); }
void BM_blocks_4x4_90(benchmark::State& s) { prune_fresh<compress::magnitude, compress::blocks<4, 4>>(s, 0.9); }

void BM_compute_mask_l1_unstructured_90(benchmark::State& state) {
    for (auto _ : state) {
        auto m = compress::compute_mask<compress::magnitude>(weights(), 0.9);
        benchmark::DoNotOptimize(m.data());
    }
}

// Global magnitude pruning over four 2048 x 2048 tensors (the same 16 Mi weights) to 90%.
void BM_global_unstructured_90(benchmark::State& state) {
    std::vector<xt::xtensor<float, 2>> parts(4, xt::xtensor<float, 2>::from_shape({2048, 2048}));
    auto fill = [&] {
        const float* src = weights().data();
        for (auto& p : parts) {
            std::copy(src, src + p.size(), p.begin());
            src += p.size();
        }
    };
    std::vector<xt::xtensor<float, 2>*> ptrs;
    for (auto& p : parts) ptrs.push_back(&p);
    for (auto _ : state) {
        state.PauseTiming();
        fill();
        state.ResumeTiming();
        auto ms = compress::prune_global<compress::magnitude>(ptrs, 0.9);
        benchmark::DoNotOptimize(ms.data());
    }
}
}  // namespace

BENCHMARK(BM_l1_unstructured_90)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_compute_mask_l1_unstructured_90)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_ln_structured_l2_dim0_50)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_ln_structured_l1_dim1_50)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_global_unstructured_90)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_n_of_m_2_4)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_blocks_4x4_90)->Unit(benchmark::kMillisecond)->UseRealTime();

BENCHMARK_MAIN();
