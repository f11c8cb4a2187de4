#pragma once
// Sparse weight formats: csr<T>, bsr<T,R,C>, n_of_m_matrix<T,N,M>.
//
// Each is built from a dense 2-d tensor (PyTorch layout [out, in]), optionally with a
// compress::mask<2> that says which weights are kept, and gives back to_dense(), nnz() and
// bytes(). compress::linear (linear.hpp) runs them with the kernels of kernels/spmm.hpp.
//
// Storage (all of it counted by bytes(); the kernels keep no other per-matrix data):
//   csr<T>                values [nnz] of T, column indices [nnz] of the narrowest unsigned type
//                         that holds cols-1 (uint8 / uint16 / uint32), row pointers [rows+1] uint32.
//   bsr<T,R,C>            R x C blocks (row-major inside a block) of T, one block-column index per
//                         block (narrowest type), block-row pointers uint32. Shapes that are not
//                         multiples of R x C are padded with zeros at the bottom/right edge.
//   n_of_m_matrix<T,N,M>  every run of M weights along a row stores exactly N values and N
//                         in-group indices of ceil(log2 M) bits (2:4: 2 bits per kept value),
//                         packed little-endian into uint64 words, each row starting a new word.
//                         A group with fewer than N kept weights is padded with zero values.

#include <algorithm>
#include <array>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include <xtensor/xexpression.hpp>
#include <xtensor/xtensor.hpp>

#include "core/error.hpp"
#include "core/mask.hpp"
#include "core/static_checks.hpp"
#include "core/tensor.hpp"

namespace compress {

namespace detail {

/// Indices below a bound, stored in the narrowest unsigned type that holds bound-1
/// (uint8, uint16 or uint32). Kernels get a typed pointer through visit().
class narrow_indices {
public:
    narrow_indices() = default;
    /// Storage for `n` indices, each < bound.
    narrow_indices(std::size_t bound, std::size_t n) {
        if (bound <= 0x100u) {
            width_ = 1;
            u8_.assign(n, 0);
        } else if (bound <= 0x10000u) {
            width_ = 2;
            u16_.assign(n, 0);
        } else {
            width_ = 4;
            u32_.assign(n, 0);
        }
    }

    /// Bytes per index: 1, 2 or 4.
    std::size_t width() const noexcept { return width_; }
    std::size_t size() const noexcept {
        return width_ == 1 ? u8_.size() : width_ == 2 ? u16_.size() : u32_.size();
    }
    std::size_t bytes() const noexcept { return size() * width_; }

    std::size_t operator[](std::size_t i) const noexcept {
        return width_ == 1 ? u8_[i] : width_ == 2 ? u16_[i] : u32_[i];
    }
    void set(std::size_t i, std::size_t v) noexcept {
        if (width_ == 1) {
            u8_[i] = static_cast<std::uint8_t>(v);
        } else if (width_ == 2) {
            u16_[i] = static_cast<std::uint16_t>(v);
        } else {
            u32_[i] = static_cast<std::uint32_t>(v);
        }
    }

    /// Calls f(const uintX_t* data) with the typed array.
    template <class F>
    decltype(auto) visit(F&& f) const {
        if (width_ == 1) return f(static_cast<const std::uint8_t*>(u8_.data()));
        if (width_ == 2) return f(static_cast<const std::uint16_t*>(u16_.data()));
        return f(static_cast<const std::uint32_t*>(u32_.data()));
    }

    bool operator==(const narrow_indices& o) const {
        return width_ == o.width_ && u8_ == o.u8_ && u16_ == o.u16_ && u32_ == o.u32_;
    }

private:
    std::size_t width_ = 1;
    std::vector<std::uint8_t> u8_;
    std::vector<std::uint16_t> u16_;
    std::vector<std::uint32_t> u32_;
};

/// Rank-2 check, NaN/Inf check (floating T), and a row-major copy-free walk over `w`.
template <class T, class E>
std::array<std::size_t, 2> check_dense_weight(const xt::xexpression<E>& expr, const std::string& name,
                                              const char* who) {
    const auto& e = expr.derived_cast();
    if (e.dimension() != 2) {
        throw shape_error(std::string(who) + ": " + where(name) + " must be a 2-d weight [out, in], got shape " +
                          shape_str(e.shape()));
    }
    if constexpr (std::is_floating_point_v<T>) check_finite(expr, name);
    return {static_cast<std::size_t>(e.shape()[0]), static_cast<std::size_t>(e.shape()[1])};
}

/// Dense row-major copy of any 2-d expression, as T.
template <class T, class E>
std::vector<T> dense_copy(const xt::xexpression<E>& expr) {
    const auto& e = expr.derived_cast();
    std::vector<T> out;
    out.reserve(e.size());
    for (auto it = e.cbegin(); it != e.cend(); ++it) out.push_back(static_cast<T>(*it));
    return out;
}

inline void check_mask_shape(const mask<2>& m, const std::array<std::size_t, 2>& shape, const std::string& name,
                             const char* who) {
    if (m.shape() != shape) {
        throw shape_error(std::string(who) + ": mask of shape " + shape_str(m.shape()) + " does not fit " +
                          where(name) + " of shape " + shape_str(shape));
    }
}

inline void check_nnz_fits(std::size_t count, const char* who) {
    if (count > std::numeric_limits<std::uint32_t>::max()) {
        throw shape_error(std::string(who) + ": " + std::to_string(count) +
                          " stored entries exceed the 32-bit row pointers (at most 4294967295)");
    }
}

template <class T>
std::size_t count_nonzero(const std::vector<T>& v) {
    std::size_t n = 0;
    for (const T& x : v) n += x != T(0) ? 1 : 0;
    return n;
}

constexpr std::size_t bits_for(std::size_t m) noexcept {
    std::size_t b = 0;
    while ((std::size_t{1} << b) < m) ++b;
    return b == 0 ? 1 : b;
}

}  // namespace detail

// ============================================================================== csr

/// Compressed sparse rows: values, narrow column indices, uint32 row pointers. Generic over
/// the value type T (float for linear(); the low-bit kernels store int8 codes the same way).
template <class T>
class csr {
    static_assert(std::is_arithmetic_v<T>, "csr<T> needs an arithmetic value type T");

public:
    using policy_kind = policy::sparse_format;
    using value_type = T;

    /// An empty 0 x 0 matrix.
    csr() : row_ptr_(1, 0) {}

    /// The nonzero entries of a dense [rows, cols] tensor. Throws shape_error (rank != 2),
    /// value_error (NaN/Inf in a floating-point tensor).
    template <class E>
    static csr from_dense(const xt::xexpression<E>& w, const std::string& name = {}) {
        const auto shape = detail::check_dense_weight<T>(w, name, "csr::from_dense");
        const std::vector<T> d = detail::dense_copy<T>(w);
        std::vector<std::uint8_t> keep(d.size());
        for (std::size_t i = 0; i < d.size(); ++i) keep[i] = d[i] != T(0) ? 1 : 0;
        return build(shape, d, keep.data());
    }

    /// The entries of `w` that `m` keeps (a kept zero is stored as an explicit zero). Any mask
    /// fits CSR; throws shape_error when its shape differs from w's.
    template <class E>
    static csr from_dense(const xt::xexpression<E>& w, const mask<2>& m, const std::string& name = {}) {
        const auto shape = detail::check_dense_weight<T>(w, name, "csr::from_dense");
        detail::check_mask_shape(m, shape, name, "csr::from_dense");
        return build(shape, detail::dense_copy<T>(w), m.data());
    }

    /// From raw arrays (e.g. read from a file), validated: row_ptr has rows+1 non-decreasing
    /// entries from 0 to nnz, column indices are < cols and strictly increasing within a row,
    /// values has nnz entries. Throws format_error naming the first violation.
    static csr from_parts(std::size_t rows, std::size_t cols, const std::vector<std::uint32_t>& row_ptr,
                          const std::vector<std::uint32_t>& col_idx, std::vector<T> values) {
        const std::string who = "csr::from_parts: ";
        if (row_ptr.size() != rows + 1) {
            throw format_error(who + "row_ptr has " + std::to_string(row_ptr.size()) + " entries, a " +
                               std::to_string(rows) + "-row matrix needs " + std::to_string(rows + 1));
        }
        if (row_ptr[0] != 0) throw format_error(who + "row_ptr[0] must be 0, got " + std::to_string(row_ptr[0]));
        if (col_idx.size() != values.size()) {
            throw format_error(who + std::to_string(col_idx.size()) + " column indices but " +
                               std::to_string(values.size()) + " values");
        }
        if (row_ptr[rows] != col_idx.size()) {
            throw format_error(who + "row_ptr ends at " + std::to_string(row_ptr[rows]) + " but there are " +
                               std::to_string(col_idx.size()) + " entries");
        }
        // Non-decreasing and ending at nnz: every row's range is inside the arrays.
        for (std::size_t r = 0; r < rows; ++r) {
            if (row_ptr[r + 1] < row_ptr[r]) {
                throw format_error(who + "row_ptr decreases at row " + std::to_string(r));
            }
        }
        for (std::size_t r = 0; r < rows; ++r) {
            for (std::size_t p = row_ptr[r]; p < row_ptr[r + 1]; ++p) {
                if (col_idx[p] >= cols) {
                    throw format_error(who + "column index " + std::to_string(col_idx[p]) + " in row " +
                                       std::to_string(r) + " is out of range for " + std::to_string(cols) +
                                       " columns");
                }
                if (p > row_ptr[r] && col_idx[p] <= col_idx[p - 1]) {
                    throw format_error(who + "column indices of row " + std::to_string(r) +
                                       " are not strictly increasing");
                }
            }
        }
        csr out;
        out.rows_ = rows;
        out.cols_ = cols;
        out.row_ptr_ = row_ptr;
        out.values_ = std::move(values);
        out.cols_idx_ = detail::narrow_indices(cols, col_idx.size());
        for (std::size_t p = 0; p < col_idx.size(); ++p) out.cols_idx_.set(p, col_idx[p]);
        return out;
    }

    std::size_t rows() const noexcept { return rows_; }
    std::size_t cols() const noexcept { return cols_; }
    std::array<std::size_t, 2> shape() const noexcept { return {rows_, cols_}; }
    /// Stored entries.
    std::size_t nnz() const noexcept { return values_.size(); }
    /// nnz / (rows * cols); 0 for an empty matrix.
    double density() const noexcept {
        return rows_ * cols_ == 0 ? 0.0 : static_cast<double>(nnz()) / static_cast<double>(rows_ * cols_);
    }
    double sparsity() const noexcept { return rows_ * cols_ == 0 ? 0.0 : 1.0 - density(); }
    /// Bytes of values + column indices + row pointers.
    std::size_t bytes() const noexcept {
        return values_.size() * sizeof(T) + cols_idx_.bytes() + row_ptr_.size() * sizeof(std::uint32_t);
    }
    /// Bytes per column index (1, 2 or 4).
    std::size_t index_width() const noexcept { return cols_idx_.width(); }

    const std::vector<T>& values() const noexcept { return values_; }
    const std::vector<std::uint32_t>& row_ptr() const noexcept { return row_ptr_; }
    const detail::narrow_indices& col_indices() const noexcept { return cols_idx_; }
    /// Column of stored entry p.
    std::size_t col(std::size_t p) const noexcept { return cols_idx_[p]; }

    /// The dense [rows, cols] matrix.
    xt::xtensor<T, 2> to_dense() const {
        xt::xtensor<T, 2> out = xt::zeros<T>({rows_, cols_});
        for (std::size_t r = 0; r < rows_; ++r) {
            for (std::size_t p = row_ptr_[r]; p < row_ptr_[r + 1]; ++p) out(r, cols_idx_[p]) = values_[p];
        }
        return out;
    }

    /// The same structure with every value mapped through f (e.g. quantized to int8 codes).
    template <class U, class F>
    csr<U> map_values(F&& f) const {
        std::vector<U> v(values_.size());
        for (std::size_t p = 0; p < v.size(); ++p) v[p] = static_cast<U>(f(values_[p]));
        return csr<U>(rows_, cols_, row_ptr_, cols_idx_, std::move(v));
    }

    /// Internal: from already consistent parts (used by map_values).
    csr(std::size_t rows, std::size_t cols, std::vector<std::uint32_t> row_ptr, detail::narrow_indices idx,
        std::vector<T> values)
        : rows_(rows), cols_(cols), row_ptr_(std::move(row_ptr)), cols_idx_(std::move(idx)), values_(std::move(values)) {}

private:
    static csr build(const std::array<std::size_t, 2>& shape, const std::vector<T>& d, const std::uint8_t* keep) {
        const std::size_t rows = shape[0], cols = shape[1];
        std::size_t count = 0;
        for (std::size_t i = 0; i < rows * cols; ++i) count += keep[i] ? 1 : 0;
        detail::check_nnz_fits(count, "csr::from_dense");
        csr out;
        out.rows_ = rows;
        out.cols_ = cols;
        out.row_ptr_.assign(rows + 1, 0);
        out.values_.resize(count);
        out.cols_idx_ = detail::narrow_indices(cols, count);
        std::size_t p = 0;
        for (std::size_t r = 0; r < rows; ++r) {
            for (std::size_t c = 0; c < cols; ++c) {
                if (keep[r * cols + c]) {
                    out.values_[p] = d[r * cols + c];
                    out.cols_idx_.set(p, c);
                    ++p;
                }
            }
            out.row_ptr_[r + 1] = static_cast<std::uint32_t>(p);
        }
        return out;
    }

    std::size_t rows_ = 0, cols_ = 0;
    std::vector<std::uint32_t> row_ptr_;
    detail::narrow_indices cols_idx_;
    std::vector<T> values_;
};

// ============================================================================== bsr

/// Block sparse rows: dense R x C blocks (row-major inside a block). A block is stored when
/// any of its weights is nonzero (or, with a mask, kept). Matrices whose shape is not a
/// multiple of R x C are padded with zeros at the bottom and right edges.
template <class T, std::size_t R, std::size_t C>
class bsr {
    static_assert(std::is_arithmetic_v<T>, "bsr<T,R,C> needs an arithmetic value type T");
    static_assert(R >= 1 && C >= 1, "bsr<T,R,C> needs R >= 1 and C >= 1");
    static_assert(R * C <= 4096, "bsr<T,R,C>: blocks larger than 4096 weights are not supported");

public:
    using policy_kind = policy::sparse_format;
    using value_type = T;
    static constexpr std::size_t block_rows_v = R;
    static constexpr std::size_t block_cols_v = C;

    bsr() : block_ptr_(1, 0) {}

    /// Stores every block with a nonzero weight. Throws shape_error (rank != 2) and value_error
    /// (NaN/Inf).
    template <class E>
    static bsr from_dense(const xt::xexpression<E>& w, const std::string& name = {}) {
        const auto shape = detail::check_dense_weight<T>(w, name, "bsr::from_dense");
        const std::vector<T> d = detail::dense_copy<T>(w);
        std::vector<std::uint8_t> keep(d.size());
        for (std::size_t i = 0; i < d.size(); ++i) keep[i] = d[i] != T(0) ? 1 : 0;
        return build(shape, d, keep.data(), false, name);
    }

    /// Stores the blocks that `m` keeps. The mask must be a blocks<R,C> mask: inside each block
    /// (its part inside the matrix at the edges) all flags equal; otherwise value_error names the
    /// first mixed block. Throws shape_error when the mask's shape differs from w's.
    template <class E>
    static bsr from_dense(const xt::xexpression<E>& w, const mask<2>& m, const std::string& name = {}) {
        const auto shape = detail::check_dense_weight<T>(w, name, "bsr::from_dense");
        detail::check_mask_shape(m, shape, name, "bsr::from_dense");
        return build(shape, detail::dense_copy<T>(w), m.data(), true, name);
    }

    /// From raw arrays (e.g. read from a file), validated: block_ptr has block_rows()+1
    /// non-decreasing entries from 0 to the block count, block columns are < block_cols() and
    /// strictly increasing within a block row, values holds R*C entries per block, and the
    /// padding of edge blocks outside the matrix is zero. Throws format_error naming the first
    /// violation.
    static bsr from_parts(std::size_t rows, std::size_t cols, const std::vector<std::uint32_t>& block_ptr,
                          const std::vector<std::uint32_t>& block_col, std::vector<T> values) {
        const std::string who = "bsr<" + std::to_string(R) + "," + std::to_string(C) + ">::from_parts: ";
        const std::size_t brs = (rows + R - 1) / R, bcs = (cols + C - 1) / C;
        if (block_ptr.size() != brs + 1) {
            throw format_error(who + "block_ptr has " + std::to_string(block_ptr.size()) + " entries, " +
                               std::to_string(brs) + " block rows need " + std::to_string(brs + 1));
        }
        if (block_ptr[0] != 0) throw format_error(who + "block_ptr[0] must be 0, got " + std::to_string(block_ptr[0]));
        if (block_ptr[brs] != block_col.size()) {
            throw format_error(who + "block_ptr ends at " + std::to_string(block_ptr[brs]) + " but there are " +
                               std::to_string(block_col.size()) + " block columns");
        }
        if (values.size() / (R * C) != block_col.size() || values.size() % (R * C) != 0) {
            throw format_error(who + std::to_string(values.size()) + " values for " + std::to_string(block_col.size()) +
                               " blocks of " + std::to_string(R * C));
        }
        for (std::size_t br = 0; br < brs; ++br) {
            if (block_ptr[br + 1] < block_ptr[br]) throw format_error(who + "block_ptr decreases at block row " + std::to_string(br));
        }
        for (std::size_t br = 0; br < brs; ++br) {
            for (std::size_t p = block_ptr[br]; p < block_ptr[br + 1]; ++p) {
                if (block_col[p] >= bcs) {
                    throw format_error(who + "block column " + std::to_string(block_col[p]) + " in block row " +
                                       std::to_string(br) + " is out of range for " + std::to_string(bcs) +
                                       " block columns");
                }
                if (p > block_ptr[br] && block_col[p] <= block_col[p - 1]) {
                    throw format_error(who + "block columns of block row " + std::to_string(br) +
                                       " are not strictly increasing");
                }
                for (std::size_t r = 0; r < R; ++r) {
                    for (std::size_t c = 0; c < C; ++c) {
                        const bool inside = br * R + r < rows && block_col[p] * C + c < cols;
                        if (!inside && values[p * R * C + r * C + c] != T(0)) {
                            throw format_error(who + "block " + std::to_string(p) + " (block row " + std::to_string(br) +
                                               ") has a nonzero value in its padding outside the matrix");
                        }
                    }
                }
            }
        }
        bsr out;
        out.rows_ = rows;
        out.cols_ = cols;
        out.block_ptr_ = block_ptr;
        out.values_ = std::move(values);
        out.block_col_ = detail::narrow_indices(bcs, block_col.size());
        for (std::size_t p = 0; p < block_col.size(); ++p) out.block_col_.set(p, block_col[p]);
        return out;
    }

    std::size_t rows() const noexcept { return rows_; }
    std::size_t cols() const noexcept { return cols_; }
    std::array<std::size_t, 2> shape() const noexcept { return {rows_, cols_}; }
    /// Block rows / block columns of the (padded) grid.
    std::size_t block_rows() const noexcept { return (rows_ + R - 1) / R; }
    std::size_t block_cols() const noexcept { return (cols_ + C - 1) / C; }
    /// Stored blocks.
    std::size_t nnz_blocks() const noexcept { return values_.size() / (R * C); }
    /// Stored values: nnz_blocks() * R * C (zeros inside stored blocks included).
    std::size_t nnz() const noexcept { return values_.size(); }
    /// Fraction of the rows x cols weights that are not stored.
    double sparsity() const noexcept {
        if (rows_ * cols_ == 0) return 0.0;
        // Count only the part of stored blocks inside the matrix.
        std::size_t inside = 0;
        for (std::size_t br = 0; br < block_rows(); ++br) {
            const std::size_t h = std::min(R, rows_ - br * R);
            for (std::size_t p = block_ptr_[br]; p < block_ptr_[br + 1]; ++p) {
                inside += h * std::min(C, cols_ - block_col_[p] * C);
            }
        }
        return 1.0 - static_cast<double>(inside) / static_cast<double>(rows_ * cols_);
    }
    /// Bytes of block values + block-column indices + block-row pointers.
    std::size_t bytes() const noexcept {
        return values_.size() * sizeof(T) + block_col_.bytes() + block_ptr_.size() * sizeof(std::uint32_t);
    }
    std::size_t index_width() const noexcept { return block_col_.width(); }

    /// Block values, block after block, each R x C row-major.
    const std::vector<T>& values() const noexcept { return values_; }
    const std::vector<std::uint32_t>& block_ptr() const noexcept { return block_ptr_; }
    const detail::narrow_indices& block_col_indices() const noexcept { return block_col_; }

    xt::xtensor<T, 2> to_dense() const {
        xt::xtensor<T, 2> out = xt::zeros<T>({rows_, cols_});
        for (std::size_t br = 0; br < block_rows(); ++br) {
            for (std::size_t p = block_ptr_[br]; p < block_ptr_[br + 1]; ++p) {
                const std::size_t c0 = block_col_[p] * C;
                for (std::size_t r = 0; r < R && br * R + r < rows_; ++r) {
                    for (std::size_t c = 0; c < C && c0 + c < cols_; ++c) {
                        out(br * R + r, c0 + c) = values_[p * R * C + r * C + c];
                    }
                }
            }
        }
        return out;
    }

private:
    static bsr build(const std::array<std::size_t, 2>& shape, const std::vector<T>& d, const std::uint8_t* keep,
                     bool strict, const std::string& name) {
        bsr out;
        out.rows_ = shape[0];
        out.cols_ = shape[1];
        const std::size_t rows = shape[0], cols = shape[1];
        const std::size_t brs = out.block_rows(), bcs = out.block_cols();
        std::vector<std::uint32_t> kept_cols;
        out.block_ptr_.assign(brs + 1, 0);
        for (std::size_t br = 0; br < brs; ++br) {
            for (std::size_t bc = 0; bc < bcs; ++bc) {
                std::size_t on = 0, all = 0;
                for (std::size_t r = br * R; r < std::min(rows, br * R + R); ++r) {
                    for (std::size_t c = bc * C; c < std::min(cols, bc * C + C); ++c) {
                        on += keep[r * cols + c] ? 1 : 0;
                        ++all;
                    }
                }
                if (strict && on != 0 && on != all) {
                    throw value_error("bsr<" + std::to_string(R) + "," + std::to_string(C) + ">::from_dense: mask of " +
                                      detail::where(name) + " keeps " + std::to_string(on) + " of " +
                                      std::to_string(all) + " weights of block (" + std::to_string(br) + ", " +
                                      std::to_string(bc) + "); a blocks<" + std::to_string(R) + "," +
                                      std::to_string(C) + "> mask keeps whole blocks");
                }
                if (on == 0) continue;
                kept_cols.push_back(static_cast<std::uint32_t>(bc));
                const std::size_t base = out.values_.size();
                detail::check_nnz_fits(kept_cols.size(), "bsr::from_dense");
                out.values_.resize(base + R * C, T(0));
                for (std::size_t r = br * R; r < std::min(rows, br * R + R); ++r) {
                    for (std::size_t c = bc * C; c < std::min(cols, bc * C + C); ++c) {
                        out.values_[base + (r - br * R) * C + (c - bc * C)] = d[r * cols + c];
                    }
                }
            }
            out.block_ptr_[br + 1] = static_cast<std::uint32_t>(kept_cols.size());
        }
        out.block_col_ = detail::narrow_indices(bcs, kept_cols.size());
        for (std::size_t p = 0; p < kept_cols.size(); ++p) out.block_col_.set(p, kept_cols[p]);
        return out;
    }

    std::size_t rows_ = 0, cols_ = 0;
    std::vector<std::uint32_t> block_ptr_;
    detail::narrow_indices block_col_;
    std::vector<T> values_;
};

// ============================================================================== n_of_m_matrix

/// N:M structured sparsity: each row is cut into groups of M consecutive weights (the last
/// group may be shorter) and every group stores exactly N values with their in-group positions
/// (ceil(log2 M) bits each). Groups with fewer than N kept weights are padded with zero values.
template <class T, std::size_t N, std::size_t M>
class n_of_m_matrix {
    static_assert(std::is_arithmetic_v<T>, "n_of_m_matrix<T,N,M> needs an arithmetic value type T");
    static_assert(0 < N && N < M, "n_of_m_matrix<T,N,M> needs 0 < N < M");
    static_assert(M <= 256, "n_of_m_matrix<T,N,M> needs M <= 256 (in-group positions are at most 8 bits)");

public:
    using policy_kind = policy::sparse_format;
    using value_type = T;
    static constexpr std::size_t keep_v = N;
    static constexpr std::size_t group_v = M;
    /// Bits of one in-group position.
    static constexpr std::size_t index_bits = detail::bits_for(M);

    n_of_m_matrix() = default;

    /// Stores the nonzeros of `w`; throws value_error when a group has more than N nonzeros
    /// (prune with n_of_m<N,M> first), shape_error (rank != 2), value_error (NaN/Inf).
    template <class E>
    static n_of_m_matrix from_dense(const xt::xexpression<E>& w, const std::string& name = {}) {
        const auto shape = detail::check_dense_weight<T>(w, name, "n_of_m_matrix::from_dense");
        const std::vector<T> d = detail::dense_copy<T>(w);
        std::vector<std::uint8_t> keep(d.size());
        for (std::size_t i = 0; i < d.size(); ++i) keep[i] = d[i] != T(0) ? 1 : 0;
        return build(shape, d, keep.data(), name, "nonzeros");
    }

    /// Stores the weights that `m` keeps; value_error when a group keeps more than N
    /// (not an n_of_m<N,M> mask), shape_error when the mask's shape differs from w's.
    template <class E>
    static n_of_m_matrix from_dense(const xt::xexpression<E>& w, const mask<2>& m, const std::string& name = {}) {
        const auto shape = detail::check_dense_weight<T>(w, name, "n_of_m_matrix::from_dense");
        detail::check_mask_shape(m, shape, name, "n_of_m_matrix::from_dense");
        return build(shape, detail::dense_copy<T>(w), m.data(), name, "kept weights");
    }

    /// From raw arrays (e.g. read from a file), validated: values has rows*groups()*N entries,
    /// codes rows*words_per_row() words; in every group the first min(N, width) positions are
    /// inside the group and strictly increasing, slots past a narrow last group are position 0
    /// with value 0, and the bits after a row's last position are zero. Throws format_error
    /// naming the first violation.
    static n_of_m_matrix from_parts(std::size_t rows, std::size_t cols, std::vector<T> values,
                                    std::vector<std::uint64_t> codes) {
        const std::string who = "n_of_m_matrix<" + std::to_string(N) + "," + std::to_string(M) + ">::from_parts: ";
        n_of_m_matrix out;
        out.rows_ = rows;
        out.cols_ = cols;
        const std::size_t G = out.groups(), wpr = out.words_per_row();
        if (values.size() != rows * G * N) {
            throw format_error(who + std::to_string(values.size()) + " values, a [" + std::to_string(rows) + ", " +
                               std::to_string(cols) + "] matrix stores " + std::to_string(rows * G * N));
        }
        if (codes.size() != rows * wpr) {
            throw format_error(who + std::to_string(codes.size()) + " position words, a [" + std::to_string(rows) +
                               ", " + std::to_string(cols) + "] matrix has " + std::to_string(rows * wpr));
        }
        out.values_ = std::move(values);
        out.codes_ = std::move(codes);
        for (std::size_t r = 0; r < rows; ++r) {
            for (std::size_t g = 0; g < G; ++g) {
                const std::size_t width = std::min(M, cols - g * M);
                for (std::size_t n = 0; n < N; ++n) {
                    const std::size_t pos = out.position(r, g, n);
                    const std::string at = "row " + std::to_string(r) + ", group " + std::to_string(g) + ", slot " +
                                           std::to_string(n);
                    if (n >= width) {
                        if (pos != 0 || out.values_[(r * G + g) * N + n] != T(0)) {
                            throw format_error(who + at + " lies past the end of the row but is not position 0 with value 0");
                        }
                    } else if (pos >= width) {
                        throw format_error(who + at + ": position " + std::to_string(pos) + " is outside the group of " +
                                           std::to_string(width) + " columns");
                    } else if (n > 0 && pos <= out.position(r, g, n - 1)) {
                        throw format_error(who + at + ": positions are not strictly increasing");
                    }
                }
            }
            const std::uint64_t* w = out.codes_.data() + r * wpr;
            for (std::size_t k = G * N * index_bits; k < wpr * 64; ++k) {
                if ((w[k / 64] >> (k % 64)) & 1u) {
                    throw format_error(who + "row " + std::to_string(r) + " has bits set after its last position");
                }
            }
        }
        return out;
    }

    std::size_t rows() const noexcept { return rows_; }
    std::size_t cols() const noexcept { return cols_; }
    std::array<std::size_t, 2> shape() const noexcept { return {rows_, cols_}; }
    /// Groups per row: ceil(cols / M).
    std::size_t groups() const noexcept { return (cols_ + M - 1) / M; }
    /// Stored values: rows * groups * N (padding zeros included).
    std::size_t nnz() const noexcept { return values_.size(); }
    /// uint64 words of packed positions per row.
    std::size_t words_per_row() const noexcept { return (groups() * N * index_bits + 63) / 64; }
    /// Bytes of values + packed positions.
    std::size_t bytes() const noexcept { return values_.size() * sizeof(T) + codes_.size() * sizeof(std::uint64_t); }

    /// Values, row after row, group after group, N per group in increasing position order.
    const std::vector<T>& values() const noexcept { return values_; }
    /// Packed in-group positions: row r starts at word r * words_per_row(); position k of the
    /// row (k = group * N + n) occupies bits [k*b, k*b + b) of the row's little-endian bit string.
    const std::vector<std::uint64_t>& codes() const noexcept { return codes_; }

    /// In-group position of stored value n of group g in row r.
    std::size_t position(std::size_t r, std::size_t g, std::size_t n) const noexcept {
        const std::uint64_t* w = codes_.data() + r * words_per_row();
        const std::size_t bit = (g * N + n) * index_bits;
        std::uint64_t v = w[bit / 64] >> (bit % 64);
        if (bit % 64 + index_bits > 64) v |= w[bit / 64 + 1] << (64 - bit % 64);
        return static_cast<std::size_t>(v & ((std::uint64_t{1} << index_bits) - 1));
    }

    xt::xtensor<T, 2> to_dense() const {
        xt::xtensor<T, 2> out = xt::zeros<T>({rows_, cols_});
        const std::size_t G = groups();
        for (std::size_t r = 0; r < rows_; ++r) {
            for (std::size_t g = 0; g < G; ++g) {
                for (std::size_t n = 0; n < N; ++n) {
                    const T v = values_[(r * G + g) * N + n];
                    if (v != T(0)) out(r, g * M + position(r, g, n)) = v;
                }
            }
        }
        return out;
    }

private:
    static n_of_m_matrix build(const std::array<std::size_t, 2>& shape, const std::vector<T>& d,
                               const std::uint8_t* keep, const std::string& name, const char* what) {
        n_of_m_matrix out;
        out.rows_ = shape[0];
        out.cols_ = shape[1];
        const std::size_t rows = shape[0], cols = shape[1], G = out.groups(), wpr = out.words_per_row();
        out.values_.assign(rows * G * N, T(0));
        out.codes_.assign(rows * wpr, 0);
        std::array<std::size_t, N> pos{};
        for (std::size_t r = 0; r < rows; ++r) {
            std::uint64_t* words = out.codes_.data() + r * wpr;
            for (std::size_t g = 0; g < G; ++g) {
                const std::size_t c0 = g * M, width = std::min(M, cols - c0);
                std::size_t k = 0;
                for (std::size_t c = 0; c < width; ++c) {
                    if (!keep[r * cols + c0 + c]) continue;
                    if (k == N) {
                        std::size_t total = 0;
                        for (std::size_t cc = 0; cc < width; ++cc) total += keep[r * cols + c0 + cc] ? 1 : 0;
                        throw value_error("n_of_m_matrix<" + std::to_string(N) + "," + std::to_string(M) +
                                          ">::from_dense: row " + std::to_string(r) + " of " + detail::where(name) +
                                          " has " + std::to_string(total) + " " + what + " in columns [" +
                                          std::to_string(c0) + ", " + std::to_string(c0 + width) +
                                          "), at most " + std::to_string(N) + " fit (prune with n_of_m<" +
                                          std::to_string(N) + "," + std::to_string(M) + "> first)");
                    }
                    pos[k++] = c;
                }
                // Pad with zero values at the smallest unused positions (position 0 again when
                // the group is narrower than N), keeping positions increasing where possible.
                for (std::size_t c = 0; k < N && c < width; ++c) {
                    bool used = false;
                    for (std::size_t q = 0; q < k; ++q) used = used || pos[q] == c;
                    if (!used) pos[k++] = c;
                }
                const std::size_t real = k;
                while (k < N) pos[k++] = 0;
                for (std::size_t a = 1; a < real; ++a) {  // insertion sort (N is small)
                    for (std::size_t q = a; q > 0 && pos[q - 1] > pos[q]; --q) std::swap(pos[q - 1], pos[q]);
                }
                for (std::size_t n = 0; n < N; ++n) {
                    const std::size_t c = pos[n];
                    const bool stored = keep[r * cols + c0 + c] != 0 && n < real;
                    out.values_[(r * G + g) * N + n] = stored ? d[r * cols + c0 + c] : T(0);
                    const std::size_t bit = (g * N + n) * index_bits;
                    words[bit / 64] |= static_cast<std::uint64_t>(c) << (bit % 64);
                    if (bit % 64 + index_bits > 64) words[bit / 64 + 1] |= static_cast<std::uint64_t>(c) >> (64 - bit % 64);
                }
            }
        }
        return out;
    }

    std::size_t rows_ = 0, cols_ = 0;
    std::vector<T> values_;
    std::vector<std::uint64_t> codes_;
};

}  // namespace compress

// The cost model (expected_speedup / expected_faster) of these formats.
#include "kernels/cost_table.hpp"
