#pragma once
// Low-bit × sparse weights (Deep Compression, Han et al. 2016: pruning, then quantization or
// k-means weight sharing of the surviving weights) and their compress::linear overloads.
// Part of linear.hpp (reached through kernels/linear_lowbit.hpp); see docs/lowbit.md.
//
//   sparse_int8_weights      CSR pattern, one symmetric int8 code per stored weight, one fp32
//                            scale per output row:  W[n, k] = scale[n] · code
//   sparse_codebook_weights  CSR pattern, one 4-bit index per stored weight into a shared
//                            fp32 codebook of at most 16 entries:  W[n, k] = codebook[idx]
//
// Both keep the column indices in the narrowest unsigned type (as csr<T> does) and uint32 row
// pointers; bytes() counts everything they store. linear(x, W [, bias]) runs one sparse GEMV
// per row of x (kernels/int4.hpp: sparse_q8_gemv, sparse_codebook4_gemv), fp32 accumulation.

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include <xsimd/xsimd.hpp>
#include <xtensor/xexpression.hpp>
#include <xtensor/xtensor.hpp>

#include "../core/error.hpp"
#include "../core/mask.hpp"
#include "../core/tensor.hpp"
#include "../sparse.hpp"
#include "int4.hpp"
#include "lowbit_input.hpp"

namespace compress {

// ======================================================================================
// sparse_int8_weights
// ======================================================================================

/// Sparse weights whose stored values are symmetric int8 codes with one scale per output row.
class sparse_int8_weights {
public:
    /// An empty 0 x 0 matrix.
    sparse_int8_weights() = default;

    /// Keeps the nonzero weights of a dense [out, in] tensor and quantizes them per row:
    /// scale[n] = max |w[n, :]| / 127, code = round_half_even(w / scale) (a zero row gets
    /// scale 0). Throws shape_error (rank != 2), value_error (NaN / Inf weight).
    template <class E>
    static sparse_int8_weights from_dense(const xt::xexpression<E>& w) {
        return quantize(csr<float>::from_dense(w, "w"));
    }
    /// The weights that `m` keeps (mask from prune.hpp), quantized per row as above. Throws
    /// shape_error also when the mask's shape differs from w's.
    template <class E>
    static sparse_int8_weights from_dense(const xt::xexpression<E>& w, const mask<2>& m) {
        return quantize(csr<float>::from_dense(w, m, "w"));
    }
    /// From an existing fp32 CSR matrix (e.g. csr<float>::from_dense of a pruned layer).
    static sparse_int8_weights from_csr(const csr<float>& w) { return quantize(w); }

    /// From already quantized parts: `codes` (any int8 CSR matrix) and `row_scales` with one
    /// entry per row, or a single entry shared by every row. Throws format_error when the
    /// number of scales fits neither, value_error for a scale that is negative, NaN or Inf.
    static sparse_int8_weights from_parts(csr<std::int8_t> codes, std::vector<float> row_scales) {
        const char* who = "sparse_int8_weights::from_parts";
        if (row_scales.size() != codes.rows() && row_scales.size() != 1) {
            throw format_error(std::string(who) + ": " + std::to_string(row_scales.size()) + " row scales for " +
                               std::to_string(codes.rows()) + " rows (expected " + std::to_string(codes.rows()) +
                               " or 1)");
        }
        for (std::size_t i = 0; i < row_scales.size(); ++i) {
            if (!(std::isfinite(row_scales[i]) && row_scales[i] >= 0.0f)) {
                throw value_error(std::string(who) + ": row scale " + std::to_string(i) +
                                  " must be finite and >= 0, got " + std::to_string(row_scales[i]));
            }
        }
        sparse_int8_weights r;
        r.codes_ = std::move(codes);
        r.scales_ = std::move(row_scales);
        return r;
    }

    std::size_t rows() const noexcept { return codes_.rows(); }
    std::size_t cols() const noexcept { return codes_.cols(); }
    std::size_t nnz() const noexcept { return codes_.nnz(); }
    double sparsity() const noexcept { return codes_.sparsity(); }
    /// Codes (1 byte each), column indices, row pointers and scales.
    std::size_t bytes() const noexcept { return codes_.bytes() + scales_.size() * sizeof(float); }
    const csr<std::int8_t>& codes() const noexcept { return codes_; }
    /// Scale of row n.
    float scale(std::size_t n) const noexcept { return scales_[scales_.size() == 1 ? 0 : n]; }
    const std::vector<float>& scales() const noexcept { return scales_; }
    /// The dequantized dense [rows, cols] matrix.
    xt::xtensor<float, 2> to_dense() const {
        xt::xtensor<float, 2> out = xt::zeros<float>({rows(), cols()});
        const auto& rp = codes_.row_ptr();
        for (std::size_t n = 0; n < rows(); ++n)
            for (std::size_t p = rp[n]; p < rp[n + 1]; ++p)
                out(n, codes_.col(p)) = scale(n) * static_cast<float>(codes_.values()[p]);
        return out;
    }

private:
    static sparse_int8_weights quantize(const csr<float>& w) {
        const auto& rp = w.row_ptr();
        const auto& v = w.values();
        std::vector<float> scales(w.rows(), 0.0f);
        std::vector<std::int8_t> codes(v.size(), 0);
        for (std::size_t n = 0; n < w.rows(); ++n) {
            float mx = 0.0f;
            for (std::size_t p = rp[n]; p < rp[n + 1]; ++p) mx = std::max(mx, std::fabs(v[p]));
            if (mx == 0.0f) continue;
            const float s = mx / 127.0f;
            scales[n] = s;
            for (std::size_t p = rp[n]; p < rp[n + 1]; ++p) {
                const float q = std::nearbyint(v[p] / s);
                codes[p] = static_cast<std::int8_t>(std::clamp(q, -127.0f, 127.0f));
            }
        }
        sparse_int8_weights r;
        r.codes_ = csr<std::int8_t>(w.rows(), w.cols(), w.row_ptr(), w.col_indices(), std::move(codes));
        r.scales_ = std::move(scales);
        return r;
    }

    csr<std::int8_t> codes_;
    std::vector<float> scales_;
};

// ======================================================================================
// sparse_codebook_weights
// ======================================================================================

/// Sparse weights sharing a codebook of at most 16 fp32 values: each stored weight is a 4-bit
/// index (two per byte: entry p at byte p/2, low nibble for even p).
class sparse_codebook_weights {
public:
    static constexpr std::size_t max_entries = 16;

    sparse_codebook_weights() : row_ptr_(1, 0), codebook_(max_entries, 0.0f) {}

    /// Keeps the nonzero weights of a dense [out, in] tensor and replaces each by its nearest
    /// codebook entry (ties: the lower index). Throws shape_error (rank != 2), value_error
    /// (NaN / Inf weight or codebook entry, empty codebook or more than 16 entries).
    template <class E>
    static sparse_codebook_weights from_dense(const xt::xexpression<E>& w, const std::vector<float>& codebook) {
        check_codebook(codebook, "sparse_codebook_weights::from_dense");
        return assign(csr<float>::from_dense(w, "w"), codebook);
    }
    /// The weights that `m` keeps, each replaced by its nearest codebook entry.
    template <class E>
    static sparse_codebook_weights from_dense(const xt::xexpression<E>& w, const mask<2>& m,
                                              const std::vector<float>& codebook) {
        check_codebook(codebook, "sparse_codebook_weights::from_dense");
        return assign(csr<float>::from_dense(w, m, "w"), codebook);
    }

    /// From already clustered parts: a CSR matrix of codebook indices (e.g. k-means cluster
    /// assignments) and the codebook. Throws value_error for a bad codebook (as above),
    /// format_error for an index that is not below the codebook's size.
    static sparse_codebook_weights from_parts(const csr<std::uint8_t>& indices, const std::vector<float>& codebook) {
        const char* who = "sparse_codebook_weights::from_parts";
        check_codebook(codebook, who);
        const auto& rp = indices.row_ptr();
        for (std::size_t n = 0; n < indices.rows(); ++n) {
            for (std::size_t p = rp[n]; p < rp[n + 1]; ++p) {
                if (indices.values()[p] >= codebook.size()) {
                    throw format_error(std::string(who) + ": codebook index " + std::to_string(indices.values()[p]) +
                                       " at (" + std::to_string(n) + ", " + std::to_string(indices.col(p)) +
                                       ") is out of range for a codebook of " + std::to_string(codebook.size()) +
                                       " entries");
                }
            }
        }
        return build(indices.rows(), indices.cols(), indices.row_ptr(), indices.col_indices(), indices.values(),
                     codebook);
    }

    std::size_t rows() const noexcept { return rows_; }
    std::size_t cols() const noexcept { return cols_; }
    std::size_t nnz() const noexcept { return nnz_; }
    double sparsity() const noexcept {
        return rows_ * cols_ == 0 ? 0.0 : 1.0 - static_cast<double>(nnz_) / static_cast<double>(rows_ * cols_);
    }
    /// Packed 4-bit indices, column indices, row pointers and the codebook (16 floats).
    std::size_t bytes() const noexcept {
        return idx_.size() + cols_idx_.bytes() + row_ptr_.size() * sizeof(std::uint32_t) +
               codebook_.size() * sizeof(float);
    }
    /// The codebook as given (entries beyond its size are stored as 0 and never referenced).
    std::vector<float> codebook() const { return std::vector<float>(codebook_.begin(), codebook_.begin() + entries_); }
    /// Codebook index of stored entry p.
    unsigned index(std::size_t p) const noexcept {
        const unsigned b = idx_[p / 2];
        return p % 2 == 0 ? (b & 0xFu) : (b >> 4);
    }
    /// Column of stored entry p.
    std::size_t col(std::size_t p) const noexcept { return cols_idx_[p]; }
    const std::vector<std::uint32_t>& row_ptr() const noexcept { return row_ptr_; }
    const detail::narrow_indices& col_indices() const noexcept { return cols_idx_; }
    /// Packed indices (nnz/2 rounded up bytes).
    const std::vector<std::uint8_t>& packed_indices() const noexcept { return idx_; }
    /// Always 16 floats (unused entries 0), what the kernel reads.
    const float* codebook_data() const noexcept { return codebook_.data(); }

    /// The dense [rows, cols] matrix of shared values.
    xt::xtensor<float, 2> to_dense() const {
        xt::xtensor<float, 2> out = xt::zeros<float>({rows_, cols_});
        for (std::size_t n = 0; n < rows_; ++n)
            for (std::size_t p = row_ptr_[n]; p < row_ptr_[n + 1]; ++p) out(n, col(p)) = codebook_[index(p)];
        return out;
    }

private:
    static void check_codebook(const std::vector<float>& codebook, const char* who) {
        if (codebook.empty() || codebook.size() > max_entries) {
            throw value_error(std::string(who) + ": the codebook must have 1 to 16 entries (4-bit indices), got " +
                              std::to_string(codebook.size()));
        }
        for (std::size_t i = 0; i < codebook.size(); ++i) {
            if (!std::isfinite(codebook[i])) {
                throw value_error(std::string(who) + ": codebook entry " + std::to_string(i) + " is not finite (" +
                                  (std::isnan(codebook[i]) ? "NaN" : "Inf") + ")");
            }
        }
    }

    static sparse_codebook_weights assign(const csr<float>& w, const std::vector<float>& codebook) {
        std::vector<std::uint8_t> idx(w.nnz());
        for (std::size_t p = 0; p < idx.size(); ++p) {
            const float v = w.values()[p];
            std::size_t best = 0;
            float bd = std::fabs(v - codebook[0]);
            for (std::size_t i = 1; i < codebook.size(); ++i) {
                const float d = std::fabs(v - codebook[i]);
                if (d < bd) {
                    bd = d;
                    best = i;
                }
            }
            idx[p] = static_cast<std::uint8_t>(best);
        }
        return build(w.rows(), w.cols(), w.row_ptr(), w.col_indices(), idx, codebook);
    }

    static sparse_codebook_weights build(std::size_t rows, std::size_t cols, const std::vector<std::uint32_t>& row_ptr,
                                         const detail::narrow_indices& col_idx, const std::vector<std::uint8_t>& idx,
                                         const std::vector<float>& codebook) {
        sparse_codebook_weights r;
        r.rows_ = rows;
        r.cols_ = cols;
        r.nnz_ = idx.size();
        r.row_ptr_ = row_ptr;
        r.cols_idx_ = col_idx;
        r.idx_.assign((idx.size() + 1) / 2, 0);
        for (std::size_t p = 0; p < idx.size(); ++p)
            r.idx_[p / 2] |= static_cast<std::uint8_t>(p % 2 == 0 ? idx[p] : idx[p] << 4);
        std::copy(codebook.begin(), codebook.end(), r.codebook_.begin());
        r.entries_ = codebook.size();
        return r;
    }

    std::size_t rows_ = 0, cols_ = 0, nnz_ = 0, entries_ = 1;
    std::vector<std::uint32_t> row_ptr_;
    detail::narrow_indices cols_idx_;
    std::vector<std::uint8_t> idx_;
    std::vector<float> codebook_;
};

namespace detail {

template <class Arch>
xt::xtensor<float, 2> run_sparse_int8(const lowbit_input& x, const sparse_int8_weights& w, const float* bias) {
    const std::size_t N = w.rows(), K = w.cols();
    xt::xtensor<float, 2> y = xt::xtensor<float, 2>::from_shape({x.rows, N});
    if (N == 0) return y;
    const auto& c = w.codes();
    c.col_indices().visit([&](const auto* cols) {
        for (std::size_t m = 0; m < x.rows; ++m)
            sparse_q8_gemv<Arch>(x.data + m * K, N, c.row_ptr().data(), cols, c.values().data(), w.scales().data(),
                                 w.scales().size(), bias, y.data() + m * N);
    });
    return y;
}

template <class Arch>
xt::xtensor<float, 2> run_sparse_codebook(const lowbit_input& x, const sparse_codebook_weights& w, const float* bias) {
    const std::size_t N = w.rows(), K = w.cols();
    xt::xtensor<float, 2> y = xt::xtensor<float, 2>::from_shape({x.rows, N});
    if (N == 0) return y;
    w.col_indices().visit([&](const auto* cols) {
        for (std::size_t m = 0; m < x.rows; ++m)
            sparse_codebook4_gemv<Arch>(x.data + m * K, N, w.row_ptr().data(), cols, w.packed_indices().data(),
                                        w.codebook_data(), bias, y.data() + m * N);
    });
    return y;
}

}  // namespace detail

/// y = x · Wᵀ for sparse int8 weights (Deep Compression: pruned, then quantized).
template <class Arch = xsimd::default_arch, class EX>
xt::xtensor<float, 2> linear(const xt::xexpression<EX>& x, const sparse_int8_weights& w) {
    auto in = detail::prepare_input(x, w.rows(), w.cols(), "linear(x, sparse_int8_weights)");
    return detail::run_sparse_int8<Arch>(in, w, nullptr);
}
/// y = x · Wᵀ + bias for sparse int8 weights.
template <class Arch = xsimd::default_arch, class EX, class EB>
xt::xtensor<float, 2> linear(const xt::xexpression<EX>& x, const sparse_int8_weights& w,
                             const xt::xexpression<EB>& bias) {
    const char* what = "linear(x, sparse_int8_weights, bias)";
    const auto b = detail::prepare_bias(bias, w.rows(), what);
    auto in = detail::prepare_input(x, w.rows(), w.cols(), what);
    return detail::run_sparse_int8<Arch>(in, w, b.data());
}

/// y = x · Wᵀ for sparse codebook weights (Deep Compression: pruned, then weight sharing).
template <class Arch = xsimd::default_arch, class EX>
xt::xtensor<float, 2> linear(const xt::xexpression<EX>& x, const sparse_codebook_weights& w) {
    auto in = detail::prepare_input(x, w.rows(), w.cols(), "linear(x, sparse_codebook_weights)");
    return detail::run_sparse_codebook<Arch>(in, w, nullptr);
}
/// y = x · Wᵀ + bias for sparse codebook weights.
template <class Arch = xsimd::default_arch, class EX, class EB>
xt::xtensor<float, 2> linear(const xt::xexpression<EX>& x, const sparse_codebook_weights& w,
                             const xt::xexpression<EB>& bias) {
    const char* what = "linear(x, sparse_codebook_weights, bias)";
    const auto b = detail::prepare_bias(bias, w.rows(), what);
    auto in = detail::prepare_input(x, w.rows(), w.cols(), what);
    return detail::run_sparse_codebook<Arch>(in, w, b.data());
}

}  // namespace compress
