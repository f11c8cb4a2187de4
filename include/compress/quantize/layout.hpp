#pragma once
// How a granularity splits a tensor into blocks that share a scale ("slots"), on the 2-d
// view [rows, cols] = [d0, d1·…·dn] (a 1-d tensor is [1, d0]). Part of quantize.hpp.

#include <array>
#include <cstddef>
#include <string>
#include <vector>

#include "../core/error.hpp"
#include "policies.hpp"

namespace compress::detail {

template <class Granularity, std::size_t N>
struct block_layout {
    std::array<std::size_t, N> shape{};
    std::size_t rows = 0, cols = 0;
    std::size_t slots = 0;   ///< number of scales
    std::size_t groups = 0;  ///< per_group: groups per row
    std::size_t inner = 1;   ///< per_channel<A>: product of the extents after A
    std::vector<std::size_t> slot_shape;

    block_layout() : block_layout(std::array<std::size_t, N>{}) {}

    /// Throws shape_error when the granularity does not fit (axis out of range, rejected
    /// partial group).
    explicit block_layout(const std::array<std::size_t, N>& s) : shape(s) {
        rows = N == 1 ? 1 : s[0];
        cols = 1;
        for (std::size_t d = (N == 1 ? 0 : 1); d < N; ++d) cols *= s[d];
        if constexpr (Granularity::kind == granularity_kind::tensor) {
            slots = 1;
            slot_shape = {1};
        } else if constexpr (Granularity::kind == granularity_kind::channel) {
            if (Granularity::axis >= N) {
                throw shape_error("per_channel<" + std::to_string(Granularity::axis) +
                                  ">: axis out of range for a tensor of shape " + shape_str(s));
            }
            slots = s[Granularity::axis];
            for (std::size_t d = Granularity::axis + 1; d < N; ++d) inner *= s[d];
            slot_shape = {slots};
        } else {
            constexpr std::size_t G = Granularity::group_size;
            if (!Granularity::allow_partial && cols % G != 0) {
                throw shape_error("per_group<" + std::to_string(G) + ">: the row length " + std::to_string(cols) +
                                  " of a tensor of shape " + shape_str(s) +
                                  " is not a multiple of the group size (partial groups rejected)");
            }
            groups = (cols + G - 1) / G;
            slots = rows * groups;
            slot_shape = {rows, groups};
        }
    }

    /// Scale index of element (r, c) of the 2-d view.
    std::size_t slot(std::size_t r, std::size_t c) const noexcept {
        if constexpr (Granularity::kind == granularity_kind::tensor) {
            (void)r;
            (void)c;
            return 0;
        } else if constexpr (Granularity::kind == granularity_kind::channel) {
            return ((r * cols + c) / inner) % slots;
        } else {
            return r * groups + c / Granularity::group_size;
        }
    }

    /// True when each slot is one contiguous run of the row-major data.
    bool contiguous_slots() const noexcept {
        if constexpr (Granularity::kind == granularity_kind::channel) {
            return Granularity::axis == 0;
        } else {
            return true;
        }
    }

    /// Calls fn(c0, len, slot) for the runs of row r that share a scale.
    template <class Fn>
    void for_each_run(std::size_t r, Fn&& fn) const {
        if constexpr (Granularity::kind == granularity_kind::tensor) {
            if (cols) fn(std::size_t(0), cols, std::size_t(0));
        } else if constexpr (Granularity::kind == granularity_kind::channel) {
            if (Granularity::axis == 0 && N > 1) {
                if (cols) fn(std::size_t(0), cols, r);
            } else {
                for (std::size_t c = 0; c < cols; c += inner) fn(c, inner, slot(r, c));
            }
        } else {
            constexpr std::size_t G = Granularity::group_size;
            for (std::size_t g = 0; g < groups; ++g) {
                const std::size_t c0 = g * G;
                fn(c0, (c0 + G <= cols) ? G : cols - c0, r * groups + g);
            }
        }
    }
};

}  // namespace compress::detail
