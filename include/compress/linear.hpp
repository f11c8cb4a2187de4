#pragma once
// compress::linear(x, W [, bias]): y = x · Wᵀ + b for every weight representation.
//
//   x     [batch, in]   any 2-d float expression (row-major contiguous containers are used in
//                       place; anything else — views, expressions, column-major — is copied once)
//   W     [out, in]     dense xt::xtensor<float, 2> (or any 2-d expression), csr<float>,
//                       bsr<float, R, C>, n_of_m_matrix<float, N, M>
//   bias  [out]         optional, any 1-d float expression
//   ->    xt::xtensor<float, 2> [batch, out]
//
// Shapes are checked by detail::check_linear_shapes (shape_error naming the argument and both
// extents). The architecture is the first template argument:
// compress::linear<compress::scalar_arch>(x, W) runs the portable path.
//
// This header is a thin overload set over kernels/*.hpp; other weight representations
// (quantized tensors) add their overloads next to these and reuse the detail helpers.

#include <cstddef>
#include <string>
#include <type_traits>

#include <xsimd/xsimd.hpp>
#include <xtensor/xexpression.hpp>
#include <xtensor/xlayout.hpp>
#include <xtensor/xtensor.hpp>

#include "core/arch.hpp"
#include "core/error.hpp"
#include "kernels/gemm.hpp"
#include "kernels/spmm.hpp"
#include "sparse.hpp"

namespace compress {

namespace detail {

/// Throws shape_error unless x is 2-d with x.shape(1) == in. `what` names the call, e.g.
/// "linear(x, csr)".
template <class EX>
void check_linear_shapes(const xt::xexpression<EX>& xe, std::size_t out, std::size_t in, const char* what) {
    const auto& x = xe.derived_cast();
    (void)out;
    if (x.dimension() != 2) {
        throw shape_error(std::string(what) + ": input x must be 2-d [batch, in_features], got shape " +
                          shape_str(x.shape()));
    }
    if (static_cast<std::size_t>(x.shape()[1]) != in) {
        throw shape_error(std::string(what) + ": input x of shape " + shape_str(x.shape()) + " has " +
                          std::to_string(x.shape()[1]) + " features but the weight [" + std::to_string(out) + ", " +
                          std::to_string(in) + "] expects " + std::to_string(in));
    }
}

/// As above, and the bias must be 1-d of length out.
template <class EX, class EB>
void check_linear_shapes(const xt::xexpression<EX>& xe, std::size_t out, std::size_t in,
                         const xt::xexpression<EB>& be, const char* what) {
    check_linear_shapes(xe, out, in, what);
    const auto& b = be.derived_cast();
    if (b.dimension() != 1 || static_cast<std::size_t>(b.shape()[0]) != out) {
        throw shape_error(std::string(what) + ": bias of shape " + shape_str(b.shape()) + " does not fit " +
                          std::to_string(out) + " output features (expected [" + std::to_string(out) + "])");
    }
}

template <class E, class = void>
struct has_data_layout : std::false_type {};
template <class E>
struct has_data_layout<E, std::void_t<decltype(std::declval<const E&>().data()),
                                      decltype(std::declval<const E&>().layout()),
                                      decltype(std::declval<const E&>().is_contiguous())>> : std::true_type {};

/// Pointer to the row-major contiguous float data of `e`, or to a copy in `storage`.
template <class T, std::size_t N, class E>
const T* contiguous_data(const xt::xexpression<E>& expr, xt::xtensor<T, N>& storage) {
    const auto& e = expr.derived_cast();
    if constexpr (has_data_layout<E>::value) {
        using V = std::decay_t<std::remove_pointer_t<decltype(e.data())>>;
        if constexpr (std::is_same_v<V, T>) {
            if (e.layout() == xt::layout_type::row_major && e.is_contiguous()) return e.data();
        }
    }
    storage = e;  // evaluates views, expressions, other layouts or value types
    return storage.data();
}

/// Shared driver of the sparse overloads: checks, prepares x and bias, runs kernel(x, bias, y).
template <class EX, class Kernel>
xt::xtensor<float, 2> run_linear(const xt::xexpression<EX>& x, std::size_t out, const float* bias, Kernel&& kernel) {
    xt::xtensor<float, 2> xs;
    const float* xp = contiguous_data(x, xs);
    const std::size_t batch = static_cast<std::size_t>(x.derived_cast().shape()[0]);
    xt::xtensor<float, 2> y = xt::xtensor<float, 2>::from_shape({batch, out});
    kernel(xp, batch, bias, y.data());
    return y;
}

template <class EB>
const float* bias_data(const xt::xexpression<EB>& b, xt::xtensor<float, 1>& storage) {
    return contiguous_data(b, storage);
}

// ---- dense

template <class Arch, class EX, class EW>
xt::xtensor<float, 2> linear_dense(const xt::xexpression<EX>& x, const xt::xexpression<EW>& we, const float* bias) {
    const auto& w = we.derived_cast();
    const std::size_t out = static_cast<std::size_t>(w.shape()[0]), in = static_cast<std::size_t>(w.shape()[1]);
    xt::xtensor<float, 2> ws;
    const float* wp = contiguous_data(we, ws);
    return run_linear(x, out, bias, [&](const float* xp, std::size_t batch, const float* b, float* y) {
        float beta = 0.0f;
        if (b != nullptr) {
            for (std::size_t r = 0; r < batch; ++r) std::copy(b, b + out, y + r * out);
            beta = 1.0f;
        }
        sgemm<Arch>(false, true, batch, out, in, 1.0f, xp, in, wp, in, beta, y, out);
    });
}

template <class EW>
void check_dense_weight_rank(const xt::xexpression<EW>& we) {
    const auto& w = we.derived_cast();
    if (w.dimension() != 2) {
        throw shape_error("linear(x, W): weight W must be 2-d [out_features, in_features], got shape " +
                          shape_str(w.shape()));
    }
}

// ---- sparse

template <class Arch>
void linear_kernel(const csr<float>& w, const float* x, std::size_t batch, const float* bias, float* y) {
    w.col_indices().visit([&](const auto* ci) {
        using I = std::decay_t<decltype(*ci)>;
        csr_spmm<Arch, I>(w.rows(), w.cols(), w.row_ptr().data(), ci, w.values().data(), x, batch, w.cols(), bias,
                          y, w.rows());
    });
}

template <class Arch, std::size_t R, std::size_t C>
void linear_kernel(const bsr<float, R, C>& w, const float* x, std::size_t batch, const float* bias, float* y) {
    w.block_col_indices().visit([&](const auto* bc) {
        using I = std::decay_t<decltype(*bc)>;
        bsr_spmm<Arch, R, C, I>(w.rows(), w.cols(), w.block_ptr().data(), bc, w.values().data(), x, batch, w.cols(),
                                bias, y, w.rows());
    });
}

template <class Arch, std::size_t N, std::size_t M>
void linear_kernel(const n_of_m_matrix<float, N, M>& w, const float* x, std::size_t batch, const float* bias,
                   float* y) {
    nm_spmm<Arch, N, M, n_of_m_matrix<float, N, M>::index_bits>(w.rows(), w.cols(), w.words_per_row(),
                                                                w.values().data(), w.codes().data(), x, batch,
                                                                w.cols(), bias, y, w.rows());
}

template <class Arch, class EX, class S>
xt::xtensor<float, 2> linear_sparse(const xt::xexpression<EX>& x, const S& w, const float* bias) {
    return run_linear(x, w.rows(), bias, [&](const float* xp, std::size_t batch, const float* b, float* y) {
        linear_kernel<Arch>(w, xp, batch, b, y);
    });
}

}  // namespace detail

// ------------------------------------------------------------------------------ dense

/// y = x · Wᵀ with a dense weight W [out, in] (the library's own GEMM).
template <class Arch = xsimd::default_arch, class EX, class EW>
xt::xtensor<float, 2> linear(const xt::xexpression<EX>& x, const xt::xexpression<EW>& w) {
    detail::check_dense_weight_rank(w);
    const auto& wd = w.derived_cast();
    detail::check_linear_shapes(x, static_cast<std::size_t>(wd.shape()[0]), static_cast<std::size_t>(wd.shape()[1]),
                                "linear(x, W)");
    return detail::linear_dense<Arch>(x, w, nullptr);
}

/// y = x · Wᵀ + bias with a dense weight W [out, in].
template <class Arch = xsimd::default_arch, class EX, class EW, class EB>
xt::xtensor<float, 2> linear(const xt::xexpression<EX>& x, const xt::xexpression<EW>& w,
                             const xt::xexpression<EB>& bias) {
    detail::check_dense_weight_rank(w);
    const auto& wd = w.derived_cast();
    detail::check_linear_shapes(x, static_cast<std::size_t>(wd.shape()[0]), static_cast<std::size_t>(wd.shape()[1]),
                                bias, "linear(x, W, bias)");
    xt::xtensor<float, 1> bs;
    return detail::linear_dense<Arch>(x, w, detail::bias_data(bias, bs));
}

// ------------------------------------------------------------------------------ sparse

/// y = x · Wᵀ with a CSR weight.
template <class Arch = xsimd::default_arch, class EX>
xt::xtensor<float, 2> linear(const xt::xexpression<EX>& x, const csr<float>& w) {
    detail::check_linear_shapes(x, w.rows(), w.cols(), "linear(x, csr)");
    return detail::linear_sparse<Arch>(x, w, nullptr);
}
template <class Arch = xsimd::default_arch, class EX, class EB>
xt::xtensor<float, 2> linear(const xt::xexpression<EX>& x, const csr<float>& w, const xt::xexpression<EB>& bias) {
    detail::check_linear_shapes(x, w.rows(), w.cols(), bias, "linear(x, csr, bias)");
    xt::xtensor<float, 1> bs;
    return detail::linear_sparse<Arch>(x, w, detail::bias_data(bias, bs));
}

/// y = x · Wᵀ with a BSR weight of R x C blocks.
template <class Arch = xsimd::default_arch, class EX, std::size_t R, std::size_t C>
xt::xtensor<float, 2> linear(const xt::xexpression<EX>& x, const bsr<float, R, C>& w) {
    detail::check_linear_shapes(x, w.rows(), w.cols(), "linear(x, bsr)");
    return detail::linear_sparse<Arch>(x, w, nullptr);
}
template <class Arch = xsimd::default_arch, class EX, std::size_t R, std::size_t C, class EB>
xt::xtensor<float, 2> linear(const xt::xexpression<EX>& x, const bsr<float, R, C>& w,
                             const xt::xexpression<EB>& bias) {
    detail::check_linear_shapes(x, w.rows(), w.cols(), bias, "linear(x, bsr, bias)");
    xt::xtensor<float, 1> bs;
    return detail::linear_sparse<Arch>(x, w, detail::bias_data(bias, bs));
}

/// y = x · Wᵀ with an N:M weight.
template <class Arch = xsimd::default_arch, class EX, std::size_t N, std::size_t M>
xt::xtensor<float, 2> linear(const xt::xexpression<EX>& x, const n_of_m_matrix<float, N, M>& w) {
    detail::check_linear_shapes(x, w.rows(), w.cols(), "linear(x, n_of_m_matrix)");
    return detail::linear_sparse<Arch>(x, w, nullptr);
}
template <class Arch = xsimd::default_arch, class EX, std::size_t N, std::size_t M, class EB>
xt::xtensor<float, 2> linear(const xt::xexpression<EX>& x, const n_of_m_matrix<float, N, M>& w,
                             const xt::xexpression<EB>& bias) {
    detail::check_linear_shapes(x, w.rows(), w.cols(), bias, "linear(x, n_of_m_matrix, bias)");
    xt::xtensor<float, 1> bs;
    return detail::linear_sparse<Arch>(x, w, detail::bias_data(bias, bs));
}

}  // namespace compress

// Quantized weights (W8A8, weight-only int8/int4, binary/ternary): see docs/lowbit.md.
#include "kernels/linear_lowbit.hpp"
