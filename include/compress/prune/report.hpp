#pragma once
// sparsity_report: per tensor and global kept / pruned counts, ratios and storage estimates.

#include <cstddef>
#include <cstdio>
#include <string>
#include <vector>

#include <xtensor/xexpression.hpp>

#include "../core/error.hpp"
#include "../core/mask.hpp"

namespace compress {

/// One line of a sparsity report. Storage estimates (bytes):
///   dense   = size * value_bytes
///   csr     = kept * (value_bytes + 4) + (rows + 1) * 4   (int32 column indices and row
///             pointers of the [shape[0], rest] matrix; a 1-d tensor is one row)
///   bitmask = kept * value_bytes + 8 * ceil(size / 64)    (kept values + packed_mask words)
struct sparsity_entry {
    std::string name;
    std::vector<std::size_t> shape;
    std::size_t size = 0;
    std::size_t kept = 0;
    std::size_t pruned = 0;
    double sparsity = 0.0;  // pruned / size (0 for an empty tensor)
    std::size_t value_bytes = 4;
    std::size_t bytes_dense = 0;
    std::size_t bytes_csr = 0;
    std::size_t bytes_bitmask = 0;
    /// The smaller of the two sparse estimates.
    std::size_t bytes_sparse() const noexcept { return bytes_csr < bytes_bitmask ? bytes_csr : bytes_bitmask; }
};

class sparsity_report {
public:
    /// A tensor: its zero entries count as pruned.
    template <class E>
    void add(const std::string& name, const xt::xexpression<E>& expr) {
        const auto& e = expr.derived_cast();
        std::vector<std::size_t> shape(e.shape().begin(), e.shape().end());
        std::size_t kept = 0;
        for (auto it = e.cbegin(); it != e.cend(); ++it) kept += (*it != 0) ? 1 : 0;
        using T = std::decay_t<typename E::value_type>;
        push(name, std::move(shape), kept, sizeof(T));
    }
    /// A mask, for weights of `value_bytes` bytes each.
    template <std::size_t N>
    void add(const std::string& name, const mask<N>& m, std::size_t value_bytes = 4) {
        if (value_bytes == 0) throw value_error("sparsity_report::add: value_bytes must be > 0");
        push(name, std::vector<std::size_t>(m.shape().begin(), m.shape().end()), m.kept(), value_bytes);
    }

    const std::vector<sparsity_entry>& entries() const noexcept { return entries_; }

    /// All tensors together ("total"): sums of counts and bytes; the sparsity is the global one.
    sparsity_entry total() const {
        sparsity_entry t;
        t.name = "total";
        for (const auto& e : entries_) {
            t.size += e.size;
            t.kept += e.kept;
            t.pruned += e.pruned;
            t.bytes_dense += e.bytes_dense;
            t.bytes_csr += e.bytes_csr;
            t.bytes_bitmask += e.bytes_bitmask;
        }
        t.sparsity = t.size ? static_cast<double>(t.pruned) / static_cast<double>(t.size) : 0.0;
        t.value_bytes = 0;
        return t;
    }

    /// A Markdown table, one row per tensor and a total row.
    std::string to_string() const {
        std::string s = "| tensor | shape | kept | pruned | sparsity | dense B | csr B | bitmask B |\n"
                        "|---|---|---:|---:|---:|---:|---:|---:|\n";
        auto row = [&s](const sparsity_entry& e, const std::string& shape) {
            char buf[64];
            std::snprintf(buf, sizeof buf, "%.4f", e.sparsity);
            s += "| " + e.name + " | " + shape + " | " + std::to_string(e.kept) + " | " + std::to_string(e.pruned) + " | " +
                 buf + " | " + std::to_string(e.bytes_dense) + " | " + std::to_string(e.bytes_csr) + " | " +
                 std::to_string(e.bytes_bitmask) + " |\n";
        };
        for (const auto& e : entries_) row(e, detail::shape_str(e.shape));
        row(total(), "");
        return s;
    }

private:
    void push(const std::string& name, std::vector<std::size_t> shape, std::size_t kept, std::size_t vb) {
        sparsity_entry e;
        e.name = name;
        e.size = 1;
        for (auto d : shape) e.size *= d;
        e.shape = std::move(shape);
        e.kept = kept;
        e.pruned = e.size - kept;
        e.sparsity = e.size ? static_cast<double>(e.pruned) / static_cast<double>(e.size) : 0.0;
        e.value_bytes = vb;
        const std::size_t rows = e.shape.size() >= 2 ? e.shape[0] : 1;
        e.bytes_dense = e.size * vb;
        e.bytes_csr = kept * (vb + 4) + (rows + 1) * 4;
        e.bytes_bitmask = kept * vb + 8 * ((e.size + 63) / 64);
        entries_.push_back(std::move(e));
    }

    std::vector<sparsity_entry> entries_;
};

}  // namespace compress
