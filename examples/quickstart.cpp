// Quick start: keep-flags over a weight tensor, applied in place, packed to bits.
#include <compress/compress.hpp>

#include <cstdio>
#include <random>
#include <xtensor/xrandom.hpp>

int main() {
    std::mt19937 rng(42);
    xt::xtensor<float, 2> w = xt::random::randn<float>(std::array<std::size_t, 2>{300, 784}, 0.f, 0.05f, rng);

    // Keep the weights whose magnitude is above 0.05 (a threshold prune written by hand).
    compress::mask<2> m({300, 784});
    for (std::size_t i = 0; i < w.size(); ++i) m.set(i, std::abs(w.data()[i]) >= 0.05f);
    m.apply(w);

    const auto packed = m.pack();
    std::printf("weights %zu, kept %zu, sparsity %.3f\n", m.size(), m.kept(), m.sparsity());
    std::printf("mask storage: %zu bytes packed vs %zu bytes as bytes\n", packed.bytes(), m.size());
    return 0;
}
