#pragma once
// Selection of the k lowest scores in O(n): a 16-bit radix histogram over order-preserving
// integer keys finds the bucket holding the k-th score, nth_element inside that bucket finds
// the exact (key, index) threshold, and one last pass writes the flags. Ties are broken by
// index (the lower index is pruned first), so the result is deterministic.

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "../core/error.hpp"
#include "policies.hpp"

namespace compress::detail {

/// Order-preserving unsigned key of a float: a < b  <=>  key(a) < key(b) (for non-NaN; -0 == +0).
inline std::uint32_t order_key(float f) noexcept {
    if (f == 0.0f) f = 0.0f;  // -0 -> +0
    std::uint32_t u;
    std::memcpy(&u, &f, sizeof u);
    return (u & 0x80000000u) ? ~u : (u | 0x80000000u);
}
inline std::uint64_t order_key(double d) noexcept {
    if (d == 0.0) d = 0.0;
    std::uint64_t u;
    std::memcpy(&u, &d, sizeof u);
    return (u & 0x8000000000000000ull) ? ~u : (u | 0x8000000000000000ull);
}

/// Key of |x|: the bits without the sign (monotone for |x|, -0 and +0 both map to 0).
inline std::uint32_t abs_key(float f) noexcept {
    std::uint32_t u;
    std::memcpy(&u, &f, sizeof u);
    return u & 0x7fffffffu;
}
inline std::uint64_t abs_key(double d) noexcept {
    std::uint64_t u;
    std::memcpy(&u, &d, sizeof u);
    return u & 0x7fffffffffffffffull;
}

/// Index of the first NaN/Inf in p[0, n), or n when all are finite. Vectorizes (bit test).
template <class T>
std::size_t find_non_finite(const T* p, std::size_t n) noexcept {
    if constexpr (std::is_same_v<T, float>) {
        constexpr std::size_t chunk = 1024;
        for (std::size_t b = 0; b < n; b += chunk) {
            const std::size_t e = std::min(n, b + chunk);
            std::uint32_t bad = 0;
            for (std::size_t i = b; i < e; ++i) bad |= (abs_key(p[i]) >= 0x7f800000u) ? 1u : 0u;
            if (bad) {
                for (std::size_t i = b; i < e; ++i) {
                    if (abs_key(p[i]) >= 0x7f800000u) return i;
                }
            }
        }
        return n;
    } else if constexpr (std::is_floating_point_v<T>) {
        for (std::size_t i = 0; i < n; ++i) {
            if (!std::isfinite(p[i])) return i;
        }
        return n;
    } else {
        (void)p;
        return n;
    }
}

/// Number of groups to prune for `a` over `groups` groups. Throws value_error for a fraction
/// outside [0, 1] (or NaN), a count above `groups`; thresholds are not counts (caller handles).
inline std::size_t prune_count(const amount& a, std::size_t groups, const std::string& what) {
    if (a.which() == amount::kind::fraction) {
        const double f = a.value();
        if (!(f >= 0.0 && f <= 1.0)) {
            throw value_error(what + ": amount must be a fraction in [0, 1], got " + std::to_string(f));
        }
        // Python's round(): round half to even, on the same double product as PyTorch.
        const double k = std::nearbyint(f * static_cast<double>(groups));
        return std::min(groups, static_cast<std::size_t>(k));
    }
    if (a.which() == amount::kind::count) {
        if (a.count_value() > groups) {
            throw value_error(what + ": cannot prune " + std::to_string(a.count_value()) + " of " +
                              std::to_string(groups) + " groups");
        }
        return a.count_value();
    }
    throw value_error(what + ": a threshold amount has no count");  // not reached by callers
}

inline void check_threshold(const amount& a, const std::string& what) {
    if (a.which() == amount::kind::threshold && std::isnan(a.value())) {
        throw value_error(what + ": threshold must not be NaN");
    }
}

template <class Count, class Key, class KeyAt>
void prune_smallest_impl(std::size_t n, KeyAt& key_at, unsigned key_bits, std::size_t k, bool all_candidates,
                         std::uint8_t* keep) {
    const unsigned shift = key_bits > 16 ? key_bits - 16 : 0;
    std::vector<Count> hist(std::size_t(1) << 16, Count(0));
    if (all_candidates) {
        for (std::size_t i = 0; i < n; ++i) ++hist[static_cast<std::size_t>(key_at(i) >> shift) & 0xffffu];
    } else {
        for (std::size_t i = 0; i < n; ++i) hist[static_cast<std::size_t>(key_at(i) >> shift) & 0xffffu] += keep[i];
    }
    std::size_t below = 0, bucket = 0;
    for (; bucket < hist.size(); ++bucket) {
        if (below + hist[bucket] >= k) break;
        below += hist[bucket];
    }
    const std::size_t rank = k - below;  // 1 .. hist[bucket]
    std::vector<std::pair<Key, std::size_t>> cand;
    cand.reserve(hist[bucket]);
    const Key lo = static_cast<Key>(static_cast<Key>(bucket) << shift);
    const Key span = static_cast<Key>((Key(1) << shift) - 1);
    for (std::size_t i = 0; i < n; ++i) {
        const Key key = key_at(i);
        if (static_cast<Key>(key - lo) <= span && keep[i]) cand.emplace_back(key, i);
    }
    std::nth_element(cand.begin(), cand.begin() + static_cast<std::ptrdiff_t>(rank - 1), cand.end());
    const Key tk = cand[rank - 1].first;
    const std::size_t ti = cand[rank - 1].second;
    // Everything below the threshold key goes (a vectorizable pass)...
    for (std::size_t i = 0; i < n; ++i) {
        keep[i] = static_cast<std::uint8_t>(keep[i] & static_cast<std::uint8_t>(key_at(i) >= tk));
    }
    // ... and the threshold key's ties up to index ti (all of them are in the bucket).
    for (const auto& c : cand) {
        if (c.first == tk && c.second <= ti) keep[c.second] = 0;
    }
}

/// Prunes the k entries with the smallest (key, index) among the candidates (keep[i] == 1);
/// entries with keep[i] == 0 stay 0. `candidates` is the number of ones in keep, k <= candidates.
/// Keys must use only their low `key_bits` bits.
template <class Key, class KeyAt>
void prune_smallest(std::size_t n, KeyAt&& key_at, unsigned key_bits, std::size_t k, std::size_t candidates,
                    std::uint8_t* keep) {
    if (k == 0 || n == 0) return;
    if (k >= candidates) {
        std::fill(keep, keep + n, std::uint8_t(0));
        return;
    }
    if (n <= std::numeric_limits<std::uint32_t>::max()) {
        prune_smallest_impl<std::uint32_t, Key>(n, key_at, key_bits, k, candidates == n, keep);
    } else {
        prune_smallest_impl<std::uint64_t, Key>(n, key_at, key_bits, k, candidates == n, keep);
    }
}

/// Number of nonzero flags.
inline std::size_t count_ones(const std::uint8_t* f, std::size_t n) noexcept {
    std::size_t c = 0;
    for (std::size_t b = 0; b < n; b += 4096) {
        const std::size_t e = std::min(n, b + 4096);
        std::uint32_t part = 0;  // 4096 * 255 fits; a narrow accumulator lets the loop vectorize
        for (std::size_t i = b; i < e; ++i) part += f[i];
        c += part;
    }
    return c;
}

}  // namespace compress::detail
