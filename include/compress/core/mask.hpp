#pragma once
// compress::mask<N>: keep-flags for an N-d tensor, and its bit-packed form.

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include <xtensor/xlayout.hpp>
#include <xtensor/xtensor.hpp>

#include "error.hpp"

namespace compress {

template <std::size_t N>
class mask;

/// Bit-packed keep-flags: flag `i` (row-major flat index) is bit `i % 64` of word `i / 64`,
/// least significant bit first; unused bits of the last word are zero. The layout does not
/// depend on the SIMD width, so packed masks are portable between machines.
template <std::size_t N>
struct packed_mask {
    std::array<std::size_t, N> shape{};
    std::vector<std::uint64_t> words;

    std::size_t size() const noexcept {
        std::size_t n = 1;
        for (auto d : shape) n *= d;
        return n;
    }
    /// Bytes of storage for the flags (the shape is not counted).
    std::size_t bytes() const noexcept { return words.size() * sizeof(std::uint64_t); }
    bool operator==(const packed_mask& o) const { return shape == o.shape && words == o.words; }
    bool operator!=(const packed_mask& o) const { return !(*this == o); }
};

/// Keep-flags for an N-d tensor: 1 = kept, 0 = pruned. Stored one byte per flag for fast
/// application; `pack()` gives one bit per flag.
template <std::size_t N>
class mask {
    static_assert(N >= 1, "mask<N> needs N >= 1 (a mask of a 0-d tensor is meaningless)");

public:
    using shape_type = std::array<std::size_t, N>;
    using flags_type = xt::xtensor<std::uint8_t, N>;
    static constexpr std::size_t rank = N;

    /// An empty mask (all extents zero).
    mask() : flags_(flags_type::from_shape(shape_type{})) {}

    /// A mask of the given shape, every flag `keep`.
    explicit mask(const shape_type& shape, bool keep = true)
        : flags_(flags_type::from_shape(shape)), shape_(shape) {
        std::fill(flags_.begin(), flags_.end(), static_cast<std::uint8_t>(keep ? 1 : 0));
    }

    /// From a tensor of flags (any nonzero value means kept).
    template <class E>
    static mask from_flags(const xt::xexpression<E>& expr) {
        const auto& e = expr.derived_cast();
        if (e.dimension() != N) {
            throw shape_error("mask<" + std::to_string(N) + ">::from_flags: flags have shape " +
                              detail::shape_str(e.shape()));
        }
        shape_type shape{};
        std::copy(e.shape().begin(), e.shape().end(), shape.begin());
        mask m(shape, false);
        auto out = m.flags_.begin();
        for (auto it = e.cbegin(); it != e.cend(); ++it, ++out) *out = (*it != 0) ? 1 : 0;
        return m;
    }

    const shape_type& shape() const noexcept { return shape_; }
    std::size_t size() const noexcept { return flags_.size(); }
    bool empty() const noexcept { return flags_.size() == 0; }

    /// Number of kept entries.
    std::size_t kept() const noexcept {
        std::size_t k = 0;
        const std::uint8_t* p = flags_.data();
        for (std::size_t i = 0, n = flags_.size(); i < n; ++i) k += p[i];
        return k;
    }
    /// Number of pruned entries.
    std::size_t pruned() const noexcept { return size() - kept(); }
    /// Fraction of pruned entries, pruned / size; 0 for an empty mask.
    double sparsity() const noexcept {
        return empty() ? 0.0 : static_cast<double>(pruned()) / static_cast<double>(size());
    }

    /// Flag at a row-major flat index.
    bool operator[](std::size_t flat) const { return flags_.data()[flat] != 0; }
    void set(std::size_t flat, bool keep) { flags_.data()[flat] = keep ? 1 : 0; }
    /// Flag at a multi-index.
    template <class... I>
    bool operator()(I... idx) const { return flags_(idx...) != 0; }

    /// The 0/1 flags as a tensor (row-major, same shape as the masked tensor).
    const flags_type& flags() const noexcept { return flags_; }
    const std::uint8_t* data() const noexcept { return flags_.data(); }
    std::uint8_t* data() noexcept { return flags_.data(); }

    /// Zeroes the pruned entries of `w` in place (weights, or their gradients in a training
    /// loop). Throws shape_error when the shapes differ. Returns `w`.
    template <class C>
    C& apply(C& w) const {
        check_same_shape(w, "mask::apply");
        using T = std::decay_t<typename C::value_type>;
        const std::uint8_t* f = flags_.data();
        if constexpr (has_data<C>::value) {
            if (w.layout() == xt::layout_type::row_major && w.is_contiguous()) {
                T* p = w.data();
                for (std::size_t i = 0, n = flags_.size(); i < n; ++i) {
                    if (!f[i]) p[i] = T(0);
                }
                return w;
            }
        }
        std::size_t i = 0;
        for (auto it = w.begin(); it != w.end(); ++it, ++i) {
            if (!f[i]) *it = T(0);
        }
        return w;
    }

    /// Returns a copy of `w` with the pruned entries zeroed.
    template <class T>
    xt::xtensor<T, N> applied(const xt::xtensor<T, N>& w) const {
        xt::xtensor<T, N> out = w;
        apply(out);
        return out;
    }

    /// The flags as 0/1 values of type T (for multiplying with tensors).
    template <class T = float>
    xt::xtensor<T, N> as_tensor() const {
        xt::xtensor<T, N> out = xt::xtensor<T, N>::from_shape(shape_);
        std::transform(flags_.begin(), flags_.end(), out.begin(), [](std::uint8_t v) { return T(v); });
        return out;
    }

    /// Kept in both (the union of the pruned sets).
    mask operator&(const mask& o) const { return combine(o, [](std::uint8_t a, std::uint8_t b) { return a & b; }); }
    /// Kept in either.
    mask operator|(const mask& o) const { return combine(o, [](std::uint8_t a, std::uint8_t b) { return a | b; }); }
    /// Flips every flag.
    mask operator~() const {
        mask out = *this;
        for (auto& v : out.flags_) v = static_cast<std::uint8_t>(v ^ 1u);
        return out;
    }
    bool operator==(const mask& o) const { return shape_ == o.shape_ && flags_ == o.flags_; }
    bool operator!=(const mask& o) const { return !(*this == o); }

    /// One bit per flag, 64 flags per word (see packed_mask for the layout).
    packed_mask<N> pack() const {
        packed_mask<N> p;
        p.shape = shape_;
        const std::size_t n = size();
        p.words.assign((n + 63) / 64, 0);
        const std::uint8_t* f = flags_.data();
        for (std::size_t i = 0; i < n; ++i) {
            p.words[i / 64] |= static_cast<std::uint64_t>(f[i] & 1u) << (i % 64);
        }
        return p;
    }

    /// Inverse of pack(). Throws format_error when the word count does not match the shape
    /// or unused bits are set.
    static mask unpack(const packed_mask<N>& p) {
        const std::size_t n = p.size();
        if (p.words.size() != (n + 63) / 64) {
            throw format_error("packed mask of shape " + detail::shape_str(p.shape) + " needs " +
                               std::to_string((n + 63) / 64) + " words, got " + std::to_string(p.words.size()));
        }
        if (n % 64 != 0 && (p.words.back() >> (n % 64)) != 0) {
            throw format_error("packed mask of shape " + detail::shape_str(p.shape) +
                               " has bits set past its last flag");
        }
        mask m(p.shape, false);
        std::uint8_t* f = m.flags_.data();
        for (std::size_t i = 0; i < n; ++i) f[i] = static_cast<std::uint8_t>((p.words[i / 64] >> (i % 64)) & 1u);
        return m;
    }

private:
    template <class C, class = void>
    struct has_data : std::false_type {};
    template <class C>
    struct has_data<C, std::void_t<decltype(std::declval<C&>().data()), decltype(std::declval<C&>().layout())>>
        : std::true_type {};

    template <class C>
    void check_same_shape(const C& w, const char* where) const {
        bool same = w.dimension() == N;
        if (same) {
            for (std::size_t d = 0; d < N; ++d) same = same && static_cast<std::size_t>(w.shape()[d]) == shape_[d];
        }
        if (!same) {
            throw shape_error(std::string(where) + ": mask of shape " + detail::shape_str(shape_) +
                              " does not fit a tensor of shape " + detail::shape_str(w.shape()));
        }
    }

    template <class F>
    mask combine(const mask& o, F f) const {
        if (shape_ != o.shape_) {
            throw shape_error("combining masks of shapes " + detail::shape_str(shape_) + " and " +
                              detail::shape_str(o.shape_));
        }
        mask out(shape_, false);
        for (std::size_t i = 0, n = size(); i < n; ++i) out.flags_.data()[i] = f(flags_.data()[i], o.flags_.data()[i]);
        return out;
    }

    flags_type flags_;
    shape_type shape_{};
};

}  // namespace compress
