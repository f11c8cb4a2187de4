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

/// A run of keep flags ranked together with other segments (global pruning); the tie-break
/// index of entry i of segment s is offset(s) + i, the position in the concatenation.
struct flag_segment {
    std::size_t size = 0;
    std::uint8_t* keep = nullptr;
};

template <class Count, class Key, class KeyAt>
void prune_smallest_impl(const std::vector<flag_segment>& segs, KeyAt& key_at, unsigned key_bits, std::size_t k,
                         bool all_candidates) {
    const unsigned shift = key_bits > 16 ? key_bits - 16 : 0;
    std::vector<Count> hist(std::size_t(1) << 16, Count(0));
    for (std::size_t s = 0; s < segs.size(); ++s) {
        const std::size_t n = segs[s].size;
        const std::uint8_t* keep = segs[s].keep;
        if (all_candidates) {
            for (std::size_t i = 0; i < n; ++i) ++hist[static_cast<std::size_t>(key_at(s, i) >> shift) & 0xffffu];
        } else {
            for (std::size_t i = 0; i < n; ++i) hist[static_cast<std::size_t>(key_at(s, i) >> shift) & 0xffffu] += keep[i];
        }
    }
    std::size_t below = 0, bucket = 0;
    for (; bucket < hist.size(); ++bucket) {
        if (below + hist[bucket] >= k) break;
        below += hist[bucket];
    }
    const std::size_t rank = k - below;  // 1 .. hist[bucket]
    // (key, segment, index) of the bucket's candidates; lexicographic order = (key, position).
    struct cand_t {
        Key key;
        std::size_t seg, idx;
        bool operator<(const cand_t& o) const noexcept {
            return key < o.key || (key == o.key && (seg < o.seg || (seg == o.seg && idx < o.idx)));
        }
    };
    std::vector<cand_t> cand;
    cand.reserve(hist[bucket]);
    const Key lo = static_cast<Key>(static_cast<Key>(bucket) << shift);
    const Key span = static_cast<Key>((Key(1) << shift) - 1);
    for (std::size_t s = 0; s < segs.size(); ++s) {
        const std::size_t n = segs[s].size;
        const std::uint8_t* keep = segs[s].keep;
        for (std::size_t i = 0; i < n; ++i) {
            const Key key = key_at(s, i);
            if (static_cast<Key>(key - lo) <= span && keep[i]) cand.push_back({key, s, i});
        }
    }
    std::nth_element(cand.begin(), cand.begin() + static_cast<std::ptrdiff_t>(rank - 1), cand.end());
    const cand_t th = cand[rank - 1];
    // Everything below the threshold key goes (a vectorizable pass)...
    for (std::size_t s = 0; s < segs.size(); ++s) {
        const std::size_t n = segs[s].size;
        std::uint8_t* keep = segs[s].keep;
        for (std::size_t i = 0; i < n; ++i) {
            keep[i] = static_cast<std::uint8_t>(keep[i] & static_cast<std::uint8_t>(key_at(s, i) >= th.key));
        }
    }
    // ... and the threshold key's ties up to the threshold position (all of them are in the bucket).
    for (const auto& c : cand) {
        if (c.key == th.key && !(th < c)) segs[c.seg].keep[c.idx] = 0;
    }
}

/// Prunes the k entries with the smallest (key, position) among the candidates (keep == 1)
/// of all segments; entries with keep == 0 stay 0. `candidates` is the number of ones,
/// k <= candidates. key_at(segment, index) returns keys using only their low `key_bits` bits.
template <class Key, class KeyAt>
void prune_smallest(const std::vector<flag_segment>& segs, KeyAt&& key_at, unsigned key_bits, std::size_t k,
                    std::size_t candidates) {
    std::size_t n = 0;
    for (const auto& sg : segs) n += sg.size;
    if (k == 0 || n == 0) return;
    if (k >= candidates) {
        for (const auto& sg : segs) std::fill(sg.keep, sg.keep + sg.size, std::uint8_t(0));
        return;
    }
    if (n <= std::numeric_limits<std::uint32_t>::max()) {
        prune_smallest_impl<std::uint32_t, Key>(segs, key_at, key_bits, k, candidates == n);
    } else {
        prune_smallest_impl<std::uint64_t, Key>(segs, key_at, key_bits, k, candidates == n);
    }
}

/// One tensor: key_at(index).
template <class Key, class KeyAt>
void prune_smallest(std::size_t n, KeyAt&& key_at, unsigned key_bits, std::size_t k, std::size_t candidates,
                    std::uint8_t* keep) {
    const std::vector<flag_segment> segs{flag_segment{n, keep}};
    prune_smallest<Key>(segs, [&key_at](std::size_t, std::size_t i) { return key_at(i); }, key_bits, k, candidates);
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
