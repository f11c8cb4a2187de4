#pragma once
// Weight sharing (Han, Mao & Dally, "Deep Compression", 2016): k-means over the weights of
// one tensor gives a codebook of k shared values and one index of ceil(log2 k) bits per weight;
// the codebook is then fine-tuned with the gradients summed per cluster. Also here: the
// entropy and Huffman coding of index streams, and the relative-index sparse layout of
// Deep Compression for the survivors of pruning.

#include <algorithm>
#include <array>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <queue>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include <xtensor/xtensor.hpp>

#include "core/error.hpp"
#include "core/mask.hpp"
#include "core/static_checks.hpp"
#include "core/tensor.hpp"

namespace compress {

// ------------------------------------------------------------------ initialisation policies

/// Centroids evenly spaced over [min, max] of the weights (Deep Compression's best choice:
/// it keeps centroids on the rare large weights).
struct linear_init {
    using policy_kind = policy::cluster_init;
    static constexpr const char* name() noexcept { return "linear_init"; }
};

/// Centroids at the (j + 1/2) / k quantiles of the weights (density-based initialisation).
struct density_init {
    using policy_kind = policy::cluster_init;
    static constexpr const char* name() noexcept { return "density_init"; }
};

/// k-means++ (Arthur & Vassilvitskii 2007): each next centroid is a weight drawn with
/// probability proportional to its squared distance to the nearest centroid so far. Seeded.
struct kmeans_plusplus {
    using policy_kind = policy::cluster_init;
    static constexpr const char* name() noexcept { return "kmeans_plusplus"; }
};

/// Lloyd iterations stop after `max_iterations` or when no centroid moves by more than
/// `tolerance` times the range of the weights. `seed` feeds kmeans_plusplus.
struct kmeans_options {
    std::size_t max_iterations = 100;
    double tolerance = 1e-7;
    std::uint64_t seed = 0;
};

namespace detail {

/// splitmix64: a small portable generator (the same stream on every platform and library).
struct cluster_rng {
    std::uint64_t state;
    std::uint64_t next() noexcept {
        std::uint64_t z = (state += 0x9E3779B97F4A7C15ull);
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
        return z ^ (z >> 31);
    }
    /// Uniform in [0, 1).
    double uniform() noexcept { return static_cast<double>(next() >> 11) * (1.0 / 9007199254740992.0); }
};

/// Bits per index for k clusters: ceil(log2 k) (0 for k = 1).
inline unsigned cluster_index_bits(std::size_t k) noexcept {
    unsigned b = 0;
    while ((std::size_t{1} << b) < k) ++b;
    return b;
}

/// Index i occupies bits [i*b, i*b + b) of a little-endian bit stream (bit j of the stream is
/// bit j % 8 of byte j / 8), least significant bit first. Independent of the machine.
inline std::vector<std::uint8_t> cluster_pack_indices(const std::vector<std::uint32_t>& idx, unsigned bits) {
    std::vector<std::uint8_t> out((idx.size() * bits + 7) / 8, 0);
    std::size_t pos = 0;
    for (std::uint32_t v : idx) {
        for (unsigned b = 0; b < bits; ++b, ++pos) {
            out[pos / 8] = static_cast<std::uint8_t>(out[pos / 8] | (((v >> b) & 1u) << (pos % 8)));
        }
    }
    return out;
}

inline std::uint32_t cluster_unpack_index(const std::vector<std::uint8_t>& packed, unsigned bits, std::size_t i) noexcept {
    std::uint32_t v = 0;
    std::size_t pos = i * bits;
    for (unsigned b = 0; b < bits; ++b, ++pos) v |= static_cast<std::uint32_t>((packed[pos / 8] >> (pos % 8)) & 1u) << b;
    return v;
}

/// Nearest-centroid assignment for sorted centroids c: the cluster of x is the first j whose
/// midpoint (c[j] + c[j+1]) / 2 is >= x (a weight exactly between two centroids goes to the lower).
inline std::uint32_t kmeans_nearest(const std::vector<double>& mids, double x) noexcept {
    return static_cast<std::uint32_t>(std::lower_bound(mids.begin(), mids.end(), x) - mids.begin());
}

template <class Init>
std::vector<double> kmeans_init_centroids(const std::vector<double>& sorted, std::size_t k, std::uint64_t seed) {
    const std::size_t n = sorted.size();
    std::vector<double> c(k);
    const double lo = sorted.front(), hi = sorted.back();
    if constexpr (std::is_same_v<Init, linear_init>) {
        if (k == 1) {
            c[0] = 0.5 * (lo + hi);
        } else {
            for (std::size_t j = 0; j < k; ++j) c[j] = lo + (hi - lo) * static_cast<double>(j) / static_cast<double>(k - 1);
        }
    } else if constexpr (std::is_same_v<Init, density_init>) {
        for (std::size_t j = 0; j < k; ++j) {
            std::size_t at = static_cast<std::size_t>((static_cast<double>(j) + 0.5) / static_cast<double>(k) *
                                                      static_cast<double>(n));
            c[j] = sorted[std::min(at, n - 1)];
        }
    } else {
        static_assert(std::is_same_v<Init, kmeans_plusplus>, "unknown initialisation");
        cluster_rng rng{seed};
        c[0] = sorted[std::min(static_cast<std::size_t>(rng.uniform() * static_cast<double>(n)), n - 1)];
        std::vector<double> d2(n);
        for (std::size_t i = 0; i < n; ++i) d2[i] = (sorted[i] - c[0]) * (sorted[i] - c[0]);
        for (std::size_t j = 1; j < k; ++j) {
            double total = 0.0;
            for (double d : d2) total += d;
            std::size_t pick = n - 1;
            if (total > 0.0) {
                const double r = rng.uniform() * total;
                double acc = 0.0;
                for (std::size_t i = 0; i < n; ++i) {
                    acc += d2[i];
                    if (acc > r && d2[i] > 0.0) { pick = i; break; }
                }
            } else {
                // Fewer distinct values than clusters: the extra centroids duplicate a weight.
                pick = std::min(static_cast<std::size_t>(rng.uniform() * static_cast<double>(n)), n - 1);
            }
            c[j] = sorted[pick];
            for (std::size_t i = 0; i < n; ++i) d2[i] = std::min(d2[i], (sorted[i] - c[j]) * (sorted[i] - c[j]));
        }
    }
    return c;
}

inline std::vector<double> kmeans_midpoints(const std::vector<double>& c) {
    std::vector<double> m(c.size() ? c.size() - 1 : 0);
    for (std::size_t j = 0; j + 1 < c.size(); ++j) m[j] = 0.5 * (c[j] + c[j + 1]);
    return m;
}

/// 1-D Lloyd on sorted values with prefix sums: each cluster is a contiguous range of the
/// sorted values, so one iteration costs O(k log n). Returns sorted centroids.
inline std::vector<double> kmeans_lloyd_1d(const std::vector<double>& sorted, std::vector<double> c,
                                    const kmeans_options& opt, std::size_t& iterations) {
    const std::size_t n = sorted.size(), k = c.size();
    std::vector<double> prefix(n + 1, 0.0);
    for (std::size_t i = 0; i < n; ++i) prefix[i + 1] = prefix[i] + sorted[i];
    const double range = sorted.back() - sorted.front();
    iterations = 0;
    std::sort(c.begin(), c.end());
    for (std::size_t it = 0; it < opt.max_iterations; ++it) {
        ++iterations;
        const auto mids = kmeans_midpoints(c);
        double moved = 0.0;
        std::size_t lo = 0;
        for (std::size_t j = 0; j < k; ++j) {
            const std::size_t hi = j + 1 < k
                                       ? static_cast<std::size_t>(std::upper_bound(sorted.begin() + static_cast<std::ptrdiff_t>(lo), sorted.end(), mids[j]) - sorted.begin())
                                       : n;
            if (hi > lo) {
                const double nc = (prefix[hi] - prefix[lo]) / static_cast<double>(hi - lo);
                moved = std::max(moved, std::abs(nc - c[j]));
                c[j] = nc;
            }
            lo = hi;
        }
        std::sort(c.begin(), c.end());
        if (moved <= opt.tolerance * range) break;
    }
    return c;
}

}  // namespace detail

template <std::size_t N>
class shared_weights;

namespace detail {
template <class Init, class E, std::size_t N>
shared_weights<N> cluster_impl(const E& w, std::size_t k, const mask<N>& keep, const kmeans_options& opt);

}  // namespace detail

/// A tensor whose weights share the k values of a codebook: one index of bits() =
/// ceil(log2 k) bits per clustered weight, bit-packed (see detail::cluster_pack_indices for the layout).
/// Weights outside `keep()` (pruned before clustering) are not clustered and decode as 0.
template <std::size_t N>
class shared_weights {
public:
    using shape_type = std::array<std::size_t, N>;

    shared_weights() = default;

    /// From parts: the kept-mask (its shape is the tensor's), the codebook and one index per
    /// kept weight in row-major order. Throws value_error for an empty or non-finite codebook,
    /// an index >= k; shape_error when the number of indices differs from keep.kept().
    shared_weights(mask<N> keep, std::vector<float> codebook, const std::vector<std::uint32_t>& indices)
        : keep_(std::move(keep)), codebook_(std::move(codebook)) {
        if (codebook_.empty()) throw value_error("shared_weights: the codebook is empty");
        for (std::size_t j = 0; j < codebook_.size(); ++j) {
            if (!std::isfinite(codebook_[j])) {
                throw value_error("shared_weights: codebook entry " + std::to_string(j) + " is not finite");
            }
        }
        if (indices.size() != keep_.kept()) {
            throw shape_error("shared_weights: " + std::to_string(indices.size()) + " indices for " +
                              std::to_string(keep_.kept()) + " kept weights");
        }
        for (std::size_t i = 0; i < indices.size(); ++i) {
            if (indices[i] >= codebook_.size()) {
                throw value_error("shared_weights: index " + std::to_string(indices[i]) + " at " + std::to_string(i) +
                                  " is not below k = " + std::to_string(codebook_.size()));
            }
        }
        bits_ = detail::cluster_index_bits(codebook_.size());
        count_ = indices.size();
        packed_ = detail::cluster_pack_indices(indices, bits_);
    }

    const shape_type& shape() const noexcept { return keep_.shape(); }
    /// Number of entries of the tensor.
    std::size_t size() const noexcept { return keep_.size(); }
    /// Number of clustered (kept) weights, i.e. of stored indices.
    std::size_t count() const noexcept { return count_; }
    /// Number of clusters.
    std::size_t k() const noexcept { return codebook_.size(); }
    /// Bits per index: ceil(log2 k).
    unsigned bits() const noexcept { return bits_; }
    /// The shared values (sorted ascending after clustering; fine-tuning may reorder them).
    const std::vector<float>& codebook() const noexcept { return codebook_; }
    std::vector<float>& codebook() noexcept { return codebook_; }
    /// Which weights are clustered (all, unless a mask was given).
    const mask<N>& keep() const noexcept { return keep_; }
    /// The bit-packed indices.
    const std::vector<std::uint8_t>& packed() const noexcept { return packed_; }

    /// Index of the i-th clustered weight (row-major order among the kept ones).
    std::uint32_t index(std::size_t i) const {
        if (i >= count_) {
            throw shape_error("shared_weights::index: " + std::to_string(i) + " is out of range (" +
                              std::to_string(count_) + " indices)");
        }
        return detail::cluster_unpack_index(packed_, bits_, i);
    }
    std::vector<std::uint32_t> indices() const {
        std::vector<std::uint32_t> out(count_);
        for (std::size_t i = 0; i < count_; ++i) out[i] = detail::cluster_unpack_index(packed_, bits_, i);
        return out;
    }

    /// The dense tensor: codebook[index] at kept positions, 0 elsewhere.
    xt::xtensor<float, N> to_dense() const {
        xt::xtensor<float, N> out = xt::xtensor<float, N>::from_shape(keep_.shape());
        float* p = out.data();
        std::size_t j = 0;
        for (std::size_t i = 0; i < keep_.size(); ++i) {
            p[i] = keep_[i] ? codebook_[detail::cluster_unpack_index(packed_, bits_, j++)] : 0.0f;
        }
        return out;
    }

    /// Storage: packed indices + fp32 codebook, plus the bit-packed mask when some weights were pruned.
    std::size_t bytes() const noexcept {
        return packed_.size() + codebook_.size() * sizeof(float) + (keep_.pruned() ? keep_.pack().bytes() : 0);
    }

    /// Lloyd iterations run, and the sum of squared distances of the weights to their centroid.
    std::size_t iterations() const noexcept { return iterations_; }
    double inertia() const noexcept { return inertia_; }

private:
    template <class Init, class E, std::size_t M>
    friend shared_weights<M> detail::cluster_impl(const E&, std::size_t, const mask<M>&, const kmeans_options&);

    mask<N> keep_;
    std::vector<float> codebook_;
    std::vector<std::uint8_t> packed_;
    std::size_t count_ = 0;
    unsigned bits_ = 0;
    std::size_t iterations_ = 0;
    double inertia_ = 0.0;
};

namespace detail {
template <class Init, class E, std::size_t N>
shared_weights<N> cluster_impl(const E& w, std::size_t k, const mask<N>& keep, const kmeans_options& opt) {
    COMPRESS_REQUIRE_POLICY(Init, cluster_init,
                            "cluster<Init>: Init must be a k-means initialisation (linear_init, density_init, kmeans_plusplus)");
    detail::check_finite(w, "weight");
    if (!std::equal(keep.shape().begin(), keep.shape().end(), w.shape().begin())) {
        throw shape_error("cluster: mask of shape " + detail::shape_str(keep.shape()) + " does not fit weight of shape " +
                          detail::shape_str(w.shape()));
    }
    const std::size_t n = keep.kept();
    if (k == 0) throw value_error("cluster: k must be >= 1");
    if (k > 65536) throw value_error("cluster: k = " + std::to_string(k) + " exceeds 65536 (16-bit indices)");
    if (k > n) {
        throw value_error("cluster: k = " + std::to_string(k) + " is larger than the number of weights to cluster (" +
                          std::to_string(n) + ")");
    }
    std::vector<double> vals;
    vals.reserve(n);
    std::size_t i = 0;
    for (auto it = w.cbegin(); it != w.cend(); ++it, ++i) {
        if (keep[i]) vals.push_back(static_cast<double>(*it));
    }
    std::vector<double> sorted = vals;
    std::sort(sorted.begin(), sorted.end());
    std::size_t iters = 0;
    auto c = detail::kmeans_lloyd_1d(sorted, detail::kmeans_init_centroids<Init>(sorted, k, opt.seed), opt, iters);
    const auto mids = detail::kmeans_midpoints(c);
    std::vector<std::uint32_t> idx(n);
    double inertia = 0.0;
    for (std::size_t j = 0; j < n; ++j) {
        idx[j] = detail::kmeans_nearest(mids, vals[j]);
        inertia += (vals[j] - c[idx[j]]) * (vals[j] - c[idx[j]]);
    }
    std::vector<float> codebook(k);
    for (std::size_t j = 0; j < k; ++j) codebook[j] = static_cast<float>(c[j]);
    shared_weights<N> out(keep, std::move(codebook), idx);
    out.iterations_ = iters;
    out.inertia_ = inertia;
    return out;
}
}  // namespace detail

/// k-means weight sharing of every weight of `w` into k clusters. Throws value_error for
/// k == 0, k larger than the number of weights (or than 65536), NaN/Inf weights.
template <class Init = linear_init, class E>
auto cluster(const xt::xexpression<E>& w, std::size_t k, const kmeans_options& opt = {}) {
    constexpr std::size_t N = detail::fixed_rank_v<E>;
    static_assert(N != static_cast<std::size_t>(-1) && N >= 1, "cluster: needs a tensor of static rank >= 1 (xt::xtensor)");
    const auto& e = w.derived_cast();
    std::array<std::size_t, N> shape{};
    std::copy(e.shape().begin(), e.shape().end(), shape.begin());
    return detail::cluster_impl<Init>(e, k, mask<N>(shape, true), opt);
}

/// k-means weight sharing of the weights kept by `keep` (the survivors of pruning); the others
/// stay zero and cost no index. Throws shape_error when the mask does not fit `w`, value_error
/// when k exceeds the number of kept weights.
template <class Init = linear_init, class E, std::size_t N>
shared_weights<N> cluster(const xt::xexpression<E>& w, std::size_t k, const mask<N>& keep, const kmeans_options& opt = {}) {
    const auto& e = w.derived_cast();
    if (e.dimension() != N) {
        throw shape_error("cluster: mask of rank " + std::to_string(N) + " for weight of shape " +
                          detail::shape_str(e.shape()));
    }
    return detail::cluster_impl<Init>(e, k, keep, opt);
}

/// Sum of `grad` over the weights of each cluster (Deep Compression's codebook gradient);
/// pruned positions are ignored. Throws shape_error when grad's shape differs, value_error for NaN/Inf.
template <std::size_t N, class E>
xt::xtensor<float, 1> codebook_gradient(const shared_weights<N>& sw, const xt::xexpression<E>& grad) {
    const auto& g = grad.derived_cast();
    if (g.dimension() != N || !std::equal(sw.shape().begin(), sw.shape().end(), g.shape().begin())) {
        throw shape_error("codebook_gradient: gradient of shape " + detail::shape_str(g.shape()) +
                          " does not fit shared weights of shape " + detail::shape_str(sw.shape()));
    }
    detail::check_finite(grad, "gradient");
    std::vector<double> acc(sw.k(), 0.0);
    std::size_t i = 0, j = 0;
    for (auto it = g.cbegin(); it != g.cend(); ++it, ++i) {
        if (sw.keep()[i]) acc[detail::cluster_unpack_index(sw.packed(), sw.bits(), j++)] += static_cast<double>(*it);
    }
    xt::xtensor<float, 1> out = xt::xtensor<float, 1>::from_shape({sw.k()});
    for (std::size_t c = 0; c < sw.k(); ++c) out(c) = static_cast<float>(acc[c]);
    return out;
}

/// One fine-tuning step of the shared values: codebook[c] -= lr * sum of grad over cluster c.
template <std::size_t N, class E>
void finetune_codebook(shared_weights<N>& sw, const xt::xexpression<E>& grad, float lr) {
    if (!std::isfinite(lr)) throw value_error("finetune_codebook: learning rate must be finite");
    const auto g = codebook_gradient(sw, grad);
    for (std::size_t c = 0; c < sw.k(); ++c) sw.codebook()[c] -= lr * g(c);
}

// ------------------------------------------------------------------ entropy and Huffman coding

/// Shannon entropy, in bits per symbol, of the empirical distribution of `symbols` (0 when empty).
inline double entropy_bits(const std::vector<std::uint32_t>& symbols) {
    if (symbols.empty()) return 0.0;
    std::vector<std::uint64_t> freq;
    for (auto s : symbols) {
        if (s >= freq.size()) freq.resize(static_cast<std::size_t>(s) + 1, 0);
        ++freq[s];
    }
    const double n = static_cast<double>(symbols.size());
    double h = 0.0;
    for (auto f : freq) {
        if (f) {
            const double p = static_cast<double>(f) / n;
            h -= p * std::log2(p);
        }
    }
    return h;
}

/// Entropy of a shared tensor's indices (bits per index): the lower bound of their coded size.
template <std::size_t N>
double index_entropy(const shared_weights<N>& sw) {
    return entropy_bits(sw.indices());
}

/// A Huffman-coded stream of symbols from an alphabet [0, lengths.size()): canonical code
/// lengths (0 = symbol absent) and the bit stream (codes written most significant bit first;
/// bit j of the stream is bit j % 8 of byte j / 8).
struct huffman_encoded {
    std::vector<std::uint8_t> lengths;
    std::vector<std::uint8_t> bits;
    std::uint64_t bit_count = 0;
    std::uint64_t count = 0;
    /// Storage: one byte per alphabet symbol for the code lengths, the stream, and 8 bytes for
    /// the symbol and bit counts.
    std::size_t bytes() const noexcept { return lengths.size() + bits.size() + 8; }
};

namespace detail {
inline constexpr unsigned huffman_max_length = 57;

/// Canonical codes from lengths; throws format_error for lengths > huffman_max_length or an
/// over-subscribed set (Kraft sum > 1).
inline std::vector<std::uint64_t> canonical_codes(const std::vector<std::uint8_t>& lengths) {
    std::vector<std::size_t> order;
    for (std::size_t s = 0; s < lengths.size(); ++s) {
        if (lengths[s] > huffman_max_length) {
            throw format_error("huffman: code length " + std::to_string(lengths[s]) + " of symbol " + std::to_string(s) +
                               " exceeds " + std::to_string(huffman_max_length));
        }
        if (lengths[s]) order.push_back(s);
    }
    std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return lengths[a] < lengths[b]; });
    std::vector<std::uint64_t> codes(lengths.size(), 0);
    std::uint64_t code = 0;
    unsigned len = order.empty() ? 0 : lengths[order[0]];
    for (std::size_t i = 0; i < order.size(); ++i) {
        const unsigned l = lengths[order[i]];
        if (i > 0) {
            ++code;
            code <<= (l - len);
            len = l;
        }
        if (code >> l) throw format_error("huffman: code lengths are over-subscribed (Kraft sum > 1)");
        codes[order[i]] = code;
    }
    return codes;
}
}  // namespace detail

/// Huffman code lengths for symbol frequencies (0 for absent symbols; a lone symbol gets 1).
/// Deterministic: ties in weight are merged in order of creation (leaves by symbol first).
inline std::vector<std::uint8_t> huffman_code_lengths(const std::vector<std::uint64_t>& freq) {
    std::vector<std::uint8_t> lengths(freq.size(), 0);
    using node = std::pair<std::uint64_t, std::size_t>;  // (weight, id)
    std::priority_queue<node, std::vector<node>, std::greater<node>> heap;
    std::vector<std::size_t> parent;
    std::size_t leaves = 0;
    std::vector<std::size_t> leaf_symbol;
    for (std::size_t s = 0; s < freq.size(); ++s) {
        if (freq[s]) {
            heap.emplace(freq[s], leaves++);
            leaf_symbol.push_back(s);
        }
    }
    if (leaves == 0) return lengths;
    if (leaves == 1) {
        lengths[leaf_symbol[0]] = 1;
        return lengths;
    }
    parent.assign(2 * leaves - 1, 0);
    std::size_t next = leaves;
    while (heap.size() > 1) {
        const node a = heap.top();
        heap.pop();
        const node b = heap.top();
        heap.pop();
        parent[a.second] = next;
        parent[b.second] = next;
        heap.emplace(a.first + b.first, next++);
    }
    const std::size_t root = next - 1;
    std::vector<unsigned> depth(2 * leaves - 1, 0);
    for (std::size_t id = root; id-- > 0;) depth[id] = depth[parent[id]] + 1;  // parents have larger ids
    for (std::size_t l = 0; l < leaves; ++l) {
        if (depth[l] > detail::huffman_max_length) {
            throw value_error("huffman_code_lengths: a code would be longer than " +
                              std::to_string(detail::huffman_max_length) + " bits");
        }
        lengths[leaf_symbol[l]] = static_cast<std::uint8_t>(depth[l]);
    }
    return lengths;
}

/// Huffman-codes `symbols` drawn from [0, alphabet) with a code built from their own frequencies.
/// Throws value_error for a symbol >= alphabet or an alphabet larger than 2^20.
inline huffman_encoded huffman_encode(const std::vector<std::uint32_t>& symbols, std::size_t alphabet) {
    if (alphabet > (std::size_t{1} << 20)) {
        throw value_error("huffman_encode: alphabet of " + std::to_string(alphabet) + " symbols exceeds 2^20");
    }
    std::vector<std::uint64_t> freq(alphabet, 0);
    for (std::size_t i = 0; i < symbols.size(); ++i) {
        if (symbols[i] >= alphabet) {
            throw value_error("huffman_encode: symbol " + std::to_string(symbols[i]) + " at " + std::to_string(i) +
                              " is outside the alphabet [0, " + std::to_string(alphabet) + ")");
        }
        ++freq[symbols[i]];
    }
    huffman_encoded out;
    out.lengths = huffman_code_lengths(freq);
    const auto codes = detail::canonical_codes(out.lengths);
    std::uint64_t total = 0;
    for (std::size_t s = 0; s < alphabet; ++s) total += freq[s] * out.lengths[s];
    out.bits.assign(static_cast<std::size_t>((total + 7) / 8), 0);
    std::uint64_t pos = 0;
    for (auto s : symbols) {
        const unsigned l = out.lengths[s];
        for (unsigned b = l; b-- > 0; ++pos) {
            out.bits[pos / 8] = static_cast<std::uint8_t>(out.bits[pos / 8] | (((codes[s] >> b) & 1u) << (pos % 8)));
        }
    }
    out.bit_count = pos;
    out.count = symbols.size();
    return out;
}

/// Decodes a huffman_encoded stream. Throws format_error for hostile or damaged input:
/// lengths over 57 bits or over-subscribed, a stream shorter or longer than bit_count, a
/// count that cannot fit in bit_count, a code that matches no symbol, truncation, trailing bits.
inline std::vector<std::uint32_t> huffman_decode(const huffman_encoded& enc) {
    const auto codes = detail::canonical_codes(enc.lengths);
    if (enc.bits.size() != (enc.bit_count + 7) / 8) {
        throw format_error("huffman_decode: stream of " + std::to_string(enc.bits.size()) + " bytes does not hold " +
                           std::to_string(enc.bit_count) + " bits");
    }
    if (enc.count > enc.bit_count) {
        throw format_error("huffman_decode: " + std::to_string(enc.count) + " symbols cannot fit in " +
                           std::to_string(enc.bit_count) + " bits");
    }
    // Canonical decoding tables per length: first code, number of codes, offset into `sorted`.
    unsigned max_len = 0;
    for (auto l : enc.lengths) max_len = std::max<unsigned>(max_len, l);
    std::vector<std::uint64_t> first(max_len + 1, 0), n_of(max_len + 1, 0), offset(max_len + 1, 0);
    std::vector<std::uint32_t> sorted;
    for (unsigned l = 1; l <= max_len; ++l) {
        offset[l] = sorted.size();
        bool seen = false;
        for (std::size_t s = 0; s < enc.lengths.size(); ++s) {
            if (enc.lengths[s] == l) {
                if (!seen) first[l] = codes[s];
                seen = true;
                ++n_of[l];
                sorted.push_back(static_cast<std::uint32_t>(s));
            }
        }
    }
    if (enc.count > 0 && sorted.empty()) throw format_error("huffman_decode: symbols to decode but no code");
    std::vector<std::uint32_t> out;
    out.reserve(static_cast<std::size_t>(enc.count));
    std::uint64_t pos = 0;
    for (std::uint64_t i = 0; i < enc.count; ++i) {
        std::uint64_t code = 0;
        unsigned l = 0;
        for (;;) {
            if (pos >= enc.bit_count) {
                throw format_error("huffman_decode: stream truncated at symbol " + std::to_string(i) + " of " +
                                   std::to_string(enc.count));
            }
            code = (code << 1) | ((enc.bits[pos / 8] >> (pos % 8)) & 1u);
            ++pos;
            ++l;
            if (n_of[l] && code >= first[l] && code - first[l] < n_of[l]) {
                out.push_back(sorted[offset[l] + (code - first[l])]);
                break;
            }
            if (l == max_len) {
                throw format_error("huffman_decode: invalid code at bit " + std::to_string(pos - l) + " (symbol " +
                                   std::to_string(i) + ")");
            }
        }
    }
    if (pos != enc.bit_count) {
        throw format_error("huffman_decode: " + std::to_string(enc.bit_count - pos) + " trailing bits after " +
                           std::to_string(enc.count) + " symbols");
    }
    return out;
}

// ------------------------------------------------------------------ relative-index sparse storage

/// Deep Compression's sparse layout of a shared tensor: for each kept weight, in row-major
/// order, the number of pruned positions since the previous kept one (a `gap_bits`-bit field)
/// and its cluster index. A gap that does not fit is split with escape fields: the value
/// 2^gap_bits - 1 means "skip that many positions, no weight here" (the paper's filler zero,
/// without a stored index).
template <std::size_t N>
struct relative_indexed {
    std::array<std::size_t, N> shape{};
    unsigned gap_bits = 0;
    std::vector<float> codebook;
    std::vector<std::uint32_t> gaps;   ///< one per kept weight, plus the escapes
    std::vector<std::uint32_t> codes;  ///< one cluster index per kept weight

    std::uint32_t escape() const noexcept { return (std::uint32_t{1} << gap_bits) - 1u; }

    /// Fixed-width storage: gaps * gap_bits + codes * ceil(log2 k) bits, plus the fp32 codebook.
    std::size_t bytes() const noexcept {
        const std::size_t b = gaps.size() * gap_bits + codes.size() * detail::cluster_index_bits(codebook.size());
        return (b + 7) / 8 + codebook.size() * sizeof(float);
    }

    /// The dense tensor. Throws format_error for hostile contents: a gap field >= 2^gap_bits,
    /// a code >= k, a position past the end, fewer or more codes than the gaps call for.
    xt::xtensor<float, N> to_dense() const {
        if (gap_bits < 1 || gap_bits > 16) {
            throw format_error("relative_indexed: gap_bits " + std::to_string(gap_bits) + " outside [1, 16]");
        }
        std::size_t size = 1;
        for (auto d : shape) size *= d;
        xt::xtensor<float, N> out = xt::xtensor<float, N>::from_shape(shape);
        out.fill(0.0f);
        const std::uint32_t esc = escape();
        std::size_t next = 0;  // next position after the previous one
        std::size_t c = 0;
        for (std::size_t i = 0; i < gaps.size(); ++i) {
            const std::uint32_t g = gaps[i];
            if (g > esc) {
                throw format_error("relative_indexed: gap " + std::to_string(g) + " at " + std::to_string(i) +
                                   " does not fit in " + std::to_string(gap_bits) + " bits");
            }
            next += g;
            if (g == esc) continue;
            if (next >= size) {
                throw format_error("relative_indexed: position " + std::to_string(next) + " past the end (" +
                                   std::to_string(size) + " entries)");
            }
            if (c >= codes.size()) throw format_error("relative_indexed: more weights than codes");
            if (codes[c] >= codebook.size()) {
                throw format_error("relative_indexed: code " + std::to_string(codes[c]) + " at " + std::to_string(c) +
                                   " is not below k = " + std::to_string(codebook.size()));
            }
            out.data()[next] = codebook[codes[c++]];
            ++next;
        }
        if (c != codes.size()) {
            throw format_error("relative_indexed: " + std::to_string(codes.size()) + " codes for " + std::to_string(c) +
                               " weights");
        }
        return out;
    }
};

/// The relative-index layout of a shared tensor's kept weights. Throws value_error unless
/// 1 <= gap_bits <= 16.
template <std::size_t N>
relative_indexed<N> relative_encode(const shared_weights<N>& sw, unsigned gap_bits) {
    if (gap_bits < 1 || gap_bits > 16) {
        throw value_error("relative_encode: gap_bits must be in [1, 16], got " + std::to_string(gap_bits));
    }
    relative_indexed<N> r;
    r.shape = sw.shape();
    r.gap_bits = gap_bits;
    r.codebook = sw.codebook();
    r.codes = sw.indices();
    const std::uint32_t esc = r.escape();
    std::size_t last = 0;  // position just after the previous kept weight
    for (std::size_t i = 0; i < sw.size(); ++i) {
        if (!sw.keep()[i]) continue;
        std::size_t gap = i - last;
        while (gap >= esc) {
            r.gaps.push_back(esc);
            gap -= esc;
        }
        r.gaps.push_back(static_cast<std::uint32_t>(gap));
        last = i + 1;
    }
    return r;
}

}  // namespace compress
