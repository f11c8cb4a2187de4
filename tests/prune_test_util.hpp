#pragma once
// Independent references for the pruning tests: full sorts and plain loops, no selection tricks.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <numeric>
#include <random>
#include <vector>

#include <xtensor/xtensor.hpp>

namespace prune_ref {

/// Keep flags after pruning the k lowest (score, index) among entries whose prev flag is 1;
/// entries with prev 0 stay pruned and count towards k.
inline std::vector<std::uint8_t> prune_lowest(const std::vector<double>& score, std::size_t k,
                                              std::vector<std::uint8_t> keep) {
    std::size_t already = 0;
    for (auto f : keep) already += f ? 0 : 1;
    if (k <= already) return keep;
    std::vector<std::size_t> idx;
    for (std::size_t i = 0; i < score.size(); ++i)
        if (keep[i]) idx.push_back(i);
    std::sort(idx.begin(), idx.end(), [&](std::size_t a, std::size_t b) {
        return score[a] < score[b] || (score[a] == score[b] && a < b);
    });
    for (std::size_t j = 0; j < k - already && j < idx.size(); ++j) keep[idx[j]] = 0;
    return keep;
}

inline std::vector<std::uint8_t> prune_lowest(const std::vector<double>& score, std::size_t k) {
    return prune_lowest(score, k, std::vector<std::uint8_t>(score.size(), 1));
}

template <class M>
std::vector<std::uint8_t> flags(const M& m) {
    return std::vector<std::uint8_t>(m.data(), m.data() + m.size());
}

template <class T, std::size_t N>
xt::xtensor<T, N> randn(const std::array<std::size_t, N>& shape, unsigned seed, double scale = 1.0) {
    std::mt19937 rng(seed);
    std::normal_distribution<double> nd(0.0, scale);
    xt::xtensor<T, N> w = xt::xtensor<T, N>::from_shape(shape);
    for (auto& v : w) v = static_cast<T>(nd(rng));
    return w;
}

}  // namespace prune_ref
