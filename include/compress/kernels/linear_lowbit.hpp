#pragma once
// compress::linear for quantized weights (part of linear.hpp; see docs/linear.md,
// "Quantized weights"). Dispatch on the quantized_tensor's scheme:
//
//   int8 / uint8, per_tensor or per_channel<0>, symmetric or affine
//        → W8A8: activations quantized on the fly (int8, per-row dynamic scale), int32
//          accumulation (AVX-512 VNNI / AVX-VNNI / AVX2 / scalar, identical integers);
//          `weight_only` as last argument selects the weight-only int8 kernel instead.
//   int8, symmetric, per_group<G>                → weight-only int8 (fp32 accumulation)
//   int4, symmetric, any granularity             → weight-only int4 (fp32 accumulation)
//   binary / ternary, per_tensor or per_channel<0> → XNOR / AND + popcount on binarized activations
//   anything else (affine int4, uint4, int2, pow2, fp8, per_channel<1>, …)
//        → the weights are dequantized and multiplied by the dense GEMM (documented fallback).
//
// Quantize-once objects: `quantize_activations(x [, scale])` → quantized_activations and
// `binarize_activations(x)` → binarized_activations feed several layers; `prepack(q)` builds
// the W8A8 weight layout once (packed_int8_weights, counted in its bytes()).

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>
#include <type_traits>
#include <vector>

#include <xsimd/xsimd.hpp>
#include <xtensor/xexpression.hpp>
#include <xtensor/xtensor.hpp>

#include "../core/error.hpp"
#include "../core/tensor.hpp"
#include "../quantize.hpp"
#include "binary.hpp"
#include "gemm.hpp"
#include "int4.hpp"
#include "int8.hpp"
#include "lowbit_input.hpp"

namespace compress {

/// Tag: run int8 weights through the weight-only kernel (fp32 activations) instead of W8A8.
struct weight_only_t {};
inline constexpr weight_only_t weight_only{};

namespace detail {

template <class G>
constexpr bool row_scaled() noexcept {
    if constexpr (G::kind == granularity_kind::tensor) return true;
    else if constexpr (G::kind == granularity_kind::channel) return G::axis == 0;
    else return false;
}
template <class G>
inline constexpr bool is_row_scaled_v = row_scaled<G>();

template <class F, class Mp, class G>
inline constexpr bool w8a8_scheme_v = (std::is_same_v<F, int8> || std::is_same_v<F, uint8>)&&is_row_scaled_v<G>;
template <class F, class Mp, class G>
inline constexpr bool wo_int8_scheme_v = std::is_same_v<F, int8> && !Mp::is_affine && (G::kind == granularity_kind::group || is_row_scaled_v<G>);
template <class F, class Mp, class G>
inline constexpr bool wo_int4_scheme_v = std::is_same_v<F, int4> && !Mp::is_affine && (G::kind == granularity_kind::group || is_row_scaled_v<G>);
template <class F, class G>
inline constexpr bool bin_scheme_v = (F::family == format_family::binary || F::family == format_family::ternary) && is_row_scaled_v<G>;

}  // namespace detail

// ======================================================================================
// Quantize-once activation objects
// ======================================================================================

/// Activations quantized to int8 once (symmetric, codes in [-127, 127]), reusable by every
/// W8A8 layer with the same number of input features.
class quantized_activations {
public:
    std::size_t rows() const noexcept { return a_.rows; }
    std::size_t cols() const noexcept { return a_.cols; }
    /// Scale of row r (0 for an all-zero row).
    float scale(std::size_t r) const noexcept { return a_.scales[r]; }
    /// Code of element (r, k).
    int code(std::size_t r, std::size_t k) const noexcept { return a_.codes[r * a_.ld + k]; }
    /// Bytes held (codes padded to 64 per row, scales, row sums).
    std::size_t bytes() const noexcept { return a_.bytes(); }
    const detail::q8_activations& data() const noexcept { return a_; }
    detail::q8_activations& data() noexcept { return a_; }

private:
    detail::q8_activations a_;
};

/// Per-row dynamic int8 quantization: scale[r] = max|x[r, :]| / 127. Throws shape_error when x
/// is not 2-d, value_error naming the position of a NaN/Inf.
template <class Arch = xsimd::default_arch, class EX>
quantized_activations quantize_activations(const xt::xexpression<EX>& x) {
    const auto& xd = x.derived_cast();
    const std::size_t in = xd.dimension() == 2 ? static_cast<std::size_t>(xd.shape()[1]) : 0;
    auto in_ = detail::prepare_input(x, 0, in, "quantize_activations(x)");
    quantized_activations qa;
    detail::quantize_activations_dynamic<Arch>(in_.data, in_.rows, in_.cols, in_.cols, qa.data());
    return qa;
}

/// Quantization with a calibrated per-tensor scale (e.g. an observer's max|x| / 127): values
/// beyond ±127·scale clip. Throws value_error unless scale is finite and > 0.
template <class Arch = xsimd::default_arch, class EX>
quantized_activations quantize_activations(const xt::xexpression<EX>& x, float scale) {
    if (!(std::isfinite(scale) && scale > 0.0f)) {
        throw value_error("quantize_activations(x, scale): the scale must be finite and > 0, got " +
                          std::to_string(scale));
    }
    const auto& xd = x.derived_cast();
    const std::size_t in = xd.dimension() == 2 ? static_cast<std::size_t>(xd.shape()[1]) : 0;
    auto in_ = detail::prepare_input(x, 0, in, "quantize_activations(x, scale)");
    quantized_activations qa;
    detail::quantize_activations_static<Arch>(in_.data, in_.rows, in_.cols, in_.cols, scale, qa.data());
    return qa;
}

/// Activations binarized once: bit = (x >= 0), β[r] = mean |x[r, :]|; reusable by every
/// binary / ternary layer with the same number of input features.
class binarized_activations {
public:
    std::size_t rows() const noexcept { return a_.rows; }
    std::size_t cols() const noexcept { return a_.cols; }
    float scale(std::size_t r) const noexcept { return a_.scales[r]; }
    /// +1 or -1.
    int sign(std::size_t r, std::size_t k) const noexcept {
        return ((a_.bits[r * a_.ld + k / 64] >> (k % 64)) & 1u) ? 1 : -1;
    }
    std::size_t bytes() const noexcept { return a_.bytes(); }
    const detail::bin_activations& data() const noexcept { return a_; }
    detail::bin_activations& data() noexcept { return a_; }

private:
    detail::bin_activations a_;
};

template <class Arch = xsimd::default_arch, class EX>
binarized_activations binarize_activations(const xt::xexpression<EX>& x) {
    const auto& xd = x.derived_cast();
    const std::size_t in = xd.dimension() == 2 ? static_cast<std::size_t>(xd.shape()[1]) : 0;
    auto in_ = detail::prepare_input(x, 0, in, "binarize_activations(x)");
    binarized_activations ba;
    detail::binarize_activations<Arch>(in_.data, in_.rows, in_.cols, in_.cols, ba.data());
    return ba;
}

// ======================================================================================
// Prepacked W8A8 weights
// ======================================================================================

/// int8 weights re-laid out once for the W8A8 kernels (64-channel panels of 4-byte k-groups,
/// codes stored as u8 = code + 128; see kernels/int8.hpp). bytes() counts the packed codes
/// (with their padding to 16 channels and 4 inputs), scales and zero points.
class packed_int8_weights {
public:
    std::size_t out_features() const noexcept { return w_.n; }
    std::size_t in_features() const noexcept { return w_.k; }
    std::size_t bytes() const noexcept { return w_.bytes(); }
    const detail::w8a8_weights& data() const noexcept { return w_; }
    detail::w8a8_weights& data() noexcept { return w_; }

private:
    detail::w8a8_weights w_;
};

/// Builds the W8A8 layout from int8 / uint8 weights with per_tensor or per_channel<0> scales.
template <class F, class Mp, class G, class SF>
packed_int8_weights prepack(const quantized_tensor<F, Mp, G, 2, SF>& q) {
    static_assert(detail::w8a8_scheme_v<F, Mp, G>,
                  "prepack: W8A8 packing needs int8 or uint8 weights with per_tensor or per_channel<0> scales");
    const std::size_t N = q.rows(), K = q.cols();
    std::vector<float> scales(q.num_scales());
    for (std::size_t i = 0; i < scales.size(); ++i) scales[i] = q.scale(i);
    std::vector<std::int32_t> zp(q.num_scales());
    constexpr int shift = F::is_signed ? 0 : 128;  // uint8 codes u are stored as u − 128
    for (std::size_t i = 0; i < zp.size(); ++i) zp[i] = q.zero_point(i) - shift;
    std::vector<std::int8_t> codes;
    const std::int8_t* cp = nullptr;
    if constexpr (F::is_signed) {
        cp = reinterpret_cast<const std::int8_t*>(q.codes());
    } else {
        codes.resize(N * K);
        for (std::size_t i = 0; i < N * K; ++i) codes[i] = static_cast<std::int8_t>(static_cast<int>(q.codes()[i]) - 128);
        cp = codes.data();
    }
    bool any_zp = false;
    for (auto z : zp) any_zp |= z != 0;
    packed_int8_weights p;
    p.data() = detail::pack_w8a8(cp, N, K, q.row_stride(), scales.data(), scales.size(), any_zp ? zp.data() : nullptr,
                                 zp.size());
    return p;
}

namespace detail {

template <class Arch, class Ext>
xt::xtensor<float, 2> run_w8a8(const q8_activations& a, const w8a8_weights& w, const float* bias) {
    xt::xtensor<float, 2> y = xt::xtensor<float, 2>::from_shape({a.rows, w.n});
    w8a8_gemm<Arch, Ext>(a, w, bias, y.data(), w.n);
    return y;
}

template <class Arch, class Ext, class F, class Mp, class G, class SF>
xt::xtensor<float, 2> run_weight_only(const lowbit_input& x, const quantized_tensor<F, Mp, G, 2, SF>& q,
                                      const float* bias) {
    using S = typename quantized_tensor<F, Mp, G, 2, SF>::scale_type;
    const std::size_t N = q.rows(), K = q.cols();
    group_scales<S> gs;
    gs.s = q.scales();
    if constexpr (G::kind == granularity_kind::group) {
        gs.group = G::group_size;
        gs.row_stride = q.groups_per_row();
    } else {
        gs.group = std::max<std::size_t>(K, 1);
        gs.row_stride = G::kind == granularity_kind::tensor ? 0 : 1;
    }
    xt::xtensor<float, 2> y = xt::xtensor<float, 2>::from_shape({x.rows, N});
    if constexpr (std::is_same_v<F, int8>) {
        wo_int8_gemm<Arch>(x.data, x.rows, K, K, reinterpret_cast<const std::int8_t*>(q.codes()), N, q.row_stride(), gs,
                           bias, y.data(), N);
    } else {
        wo_int4_gemm<Arch, Ext>(x.data, x.rows, K, K, q.codes(), N, q.row_stride(), gs, bias, y.data(), N);
    }
    return y;
}

template <class Arch, class Ext, class F, class Mp, class G, class SF>
xt::xtensor<float, 2> run_binary(const bin_activations& a, const quantized_tensor<F, Mp, G, 2, SF>& q,
                                 const float* bias) {
    const std::size_t N = q.rows();
    std::vector<float> alpha(q.num_scales());
    for (std::size_t i = 0; i < alpha.size(); ++i) alpha[i] = q.scale(i);
    bin_weights w;
    w.n = N;
    w.k = q.cols();
    w.wld = q.row_stride() / 8;
    if constexpr (F::family == format_family::ternary) {
        w.nonzero = N ? q.row_words(0, 0) : nullptr;
        w.bits = N ? q.row_words(0, 1) : nullptr;
    } else {
        w.bits = N ? q.row_words(0, 0) : nullptr;
    }
    w.alpha = alpha.data();
    w.n_alpha = alpha.size();
    xt::xtensor<float, 2> y = xt::xtensor<float, 2>::from_shape({a.rows, N});
    bin_gemm<Arch, Ext>(a, w, bias, y.data(), N);
    return y;
}

template <class Arch, class F, class Mp, class G, class SF>
xt::xtensor<float, 2> run_dequantized(const lowbit_input& x, const quantized_tensor<F, Mp, G, 2, SF>& q,
                                      const float* bias) {
    const std::size_t N = q.rows(), K = q.cols();
    const xt::xtensor<float, 2> w = q.dequantize();
    xt::xtensor<float, 2> y = xt::xtensor<float, 2>::from_shape({x.rows, N});
    float beta = 0.0f;
    if (bias) {
        for (std::size_t r = 0; r < x.rows; ++r) std::copy(bias, bias + N, y.data() + r * N);
        beta = 1.0f;
    }
    if (x.rows && N) sgemm<Arch>(false, true, x.rows, N, K, 1.0f, x.data, K, w.data(), K, beta, y.data(), N);
    return y;
}

template <class Arch, class Ext, class EX, class F, class Mp, class G, class SF>
xt::xtensor<float, 2> linear_quantized(const xt::xexpression<EX>& x, const quantized_tensor<F, Mp, G, 2, SF>& q,
                                       const float* bias, bool weight_only_mode, const char* what) {
    auto in = prepare_input(x, q.rows(), q.cols(), what);
    if constexpr (w8a8_scheme_v<F, Mp, G>) {
        if constexpr (wo_int8_scheme_v<F, Mp, G>) {
            if (weight_only_mode) return run_weight_only<Arch, Ext>(in, q, bias);
        }
        q8_activations a;
        quantize_activations_dynamic<Arch>(in.data, in.rows, in.cols, in.cols, a);
        return run_w8a8<Arch, Ext>(a, prepack(q).data(), bias);
    } else if constexpr (wo_int8_scheme_v<F, Mp, G> || wo_int4_scheme_v<F, Mp, G>) {
        return run_weight_only<Arch, Ext>(in, q, bias);
    } else if constexpr (bin_scheme_v<F, G>) {
        bin_activations a;
        binarize_activations<Arch>(in.data, in.rows, in.cols, in.cols, a);
        return run_binary<Arch, Ext>(a, q, bias);
    } else {
        return run_dequantized<Arch>(in, q, bias);
    }
}


}  // namespace detail

// ======================================================================================
// linear overloads
// ======================================================================================
//
// Each overload ends in `class Ext = detail::lowbit_ext_default`: the instruction-set extensions
// the translation unit is compiled with beyond what Arch names (AVX-512 VNNI, AVX-VNNI,
// VPOPCNTDQ, AVX512_BF16). Never passed by hand; it makes two TUs with the same Arch but
// different extension flags (e.g. -mavx512bw and -march=native) instantiate different functions,
// so the linker cannot give the baseline TU the other's VNNI / BF16 code (tests/test_lowbit_odr*.cpp).

/// y = x · dequant(W)ᵀ through the kernel of W's scheme (see the top of this file).
template <class Arch = xsimd::default_arch, class EX, class F, class Mp, class G, class SF, class Ext = detail::lowbit_ext_default>
xt::xtensor<float, 2> linear(const xt::xexpression<EX>& x, const quantized_tensor<F, Mp, G, 2, SF>& w) {
    return detail::linear_quantized<Arch, Ext>(x, w, nullptr, false, "linear(x, quantized_tensor)");
}

/// y = x · dequant(W)ᵀ + bias.
template <class Arch = xsimd::default_arch, class EX, class F, class Mp, class G, class SF, class EB, class Ext = detail::lowbit_ext_default>
xt::xtensor<float, 2> linear(const xt::xexpression<EX>& x, const quantized_tensor<F, Mp, G, 2, SF>& w,
                             const xt::xexpression<EB>& bias) {
    const auto b = detail::prepare_bias(bias, w.rows(), "linear(x, quantized_tensor, bias)");
    return detail::linear_quantized<Arch, Ext>(x, w, b.data(), false, "linear(x, quantized_tensor, bias)");
}

/// Weight-only execution of int8 / int4 weights (fp32 activations, codes dequantized in registers).
template <class Arch = xsimd::default_arch, class EX, class F, class Mp, class G, class SF, class Ext = detail::lowbit_ext_default>
xt::xtensor<float, 2> linear(const xt::xexpression<EX>& x, const quantized_tensor<F, Mp, G, 2, SF>& w, weight_only_t) {
    static_assert(detail::wo_int8_scheme_v<F, Mp, G> || detail::wo_int4_scheme_v<F, Mp, G>,
                  "linear(x, W, weight_only): weight-only kernels take symmetric int8 or int4 weights");
    return detail::linear_quantized<Arch, Ext>(x, w, nullptr, true, "linear(x, quantized_tensor, weight_only)");
}
template <class Arch = xsimd::default_arch, class EX, class F, class Mp, class G, class SF, class EB, class Ext = detail::lowbit_ext_default>
xt::xtensor<float, 2> linear(const xt::xexpression<EX>& x, const quantized_tensor<F, Mp, G, 2, SF>& w,
                             const xt::xexpression<EB>& bias, weight_only_t) {
    static_assert(detail::wo_int8_scheme_v<F, Mp, G> || detail::wo_int4_scheme_v<F, Mp, G>,
                  "linear(x, W, bias, weight_only): weight-only kernels take symmetric int8 or int4 weights");
    const auto b = detail::prepare_bias(bias, w.rows(), "linear(x, quantized_tensor, bias, weight_only)");
    return detail::linear_quantized<Arch, Ext>(x, w, b.data(), true, "linear(x, quantized_tensor, bias, weight_only)");
}

/// W8A8 with activations quantized once (quantize_activations) and weights prepacked once.
template <class Arch = xsimd::default_arch, class Ext = detail::lowbit_ext_default>
xt::xtensor<float, 2> linear(const quantized_activations& x, const packed_int8_weights& w) {
    detail::check_features(x.cols(), w.out_features(), w.in_features(), "linear(quantized_activations, packed_int8_weights)");
    return detail::run_w8a8<Arch, Ext>(x.data(), w.data(), nullptr);
}
template <class Arch = xsimd::default_arch, class EB, class Ext = detail::lowbit_ext_default>
xt::xtensor<float, 2> linear(const quantized_activations& x, const packed_int8_weights& w,
                             const xt::xexpression<EB>& bias) {
    const char* what = "linear(quantized_activations, packed_int8_weights, bias)";
    detail::check_features(x.cols(), w.out_features(), w.in_features(), what);
    const auto b = detail::prepare_bias(bias, w.out_features(), what);
    return detail::run_w8a8<Arch, Ext>(x.data(), w.data(), b.data());
}

/// W8A8 with quantized activations and int8 weights (packed on the fly; prepack() once for speed).
template <class Arch = xsimd::default_arch, class F, class Mp, class G, class SF, class Ext = detail::lowbit_ext_default>
xt::xtensor<float, 2> linear(const quantized_activations& x, const quantized_tensor<F, Mp, G, 2, SF>& w) {
    static_assert(detail::w8a8_scheme_v<F, Mp, G>,
                  "linear(quantized_activations, W): W8A8 needs int8 or uint8 weights with per_tensor or "
                  "per_channel<0> scales");
    detail::check_features(x.cols(), w.rows(), w.cols(), "linear(quantized_activations, quantized_tensor)");
    return detail::run_w8a8<Arch, Ext>(x.data(), prepack(w).data(), nullptr);
}
template <class Arch = xsimd::default_arch, class F, class Mp, class G, class SF, class EB, class Ext = detail::lowbit_ext_default>
xt::xtensor<float, 2> linear(const quantized_activations& x, const quantized_tensor<F, Mp, G, 2, SF>& w,
                             const xt::xexpression<EB>& bias) {
    static_assert(detail::w8a8_scheme_v<F, Mp, G>,
                  "linear(quantized_activations, W): W8A8 needs int8 or uint8 weights with per_tensor or "
                  "per_channel<0> scales");
    const char* what = "linear(quantized_activations, quantized_tensor, bias)";
    detail::check_features(x.cols(), w.rows(), w.cols(), what);
    const auto b = detail::prepare_bias(bias, w.rows(), what);
    return detail::run_w8a8<Arch, Ext>(x.data(), prepack(w).data(), b.data());
}

/// y = x · Wq ᵀ with fp32 activations and prepacked W8A8 weights (activations quantized per row).
template <class Arch = xsimd::default_arch, class EX, class Ext = detail::lowbit_ext_default>
xt::xtensor<float, 2> linear(const xt::xexpression<EX>& x, const packed_int8_weights& w) {
    auto in = detail::prepare_input(x, w.out_features(), w.in_features(), "linear(x, packed_int8_weights)");
    detail::q8_activations a;
    detail::quantize_activations_dynamic<Arch>(in.data, in.rows, in.cols, in.cols, a);
    return detail::run_w8a8<Arch, Ext>(a, w.data(), nullptr);
}
template <class Arch = xsimd::default_arch, class EX, class EB, class Ext = detail::lowbit_ext_default>
xt::xtensor<float, 2> linear(const xt::xexpression<EX>& x, const packed_int8_weights& w,
                             const xt::xexpression<EB>& bias) {
    const char* what = "linear(x, packed_int8_weights, bias)";
    const auto b = detail::prepare_bias(bias, w.out_features(), what);
    auto in = detail::prepare_input(x, w.out_features(), w.in_features(), what);
    detail::q8_activations a;
    detail::quantize_activations_dynamic<Arch>(in.data, in.rows, in.cols, in.cols, a);
    return detail::run_w8a8<Arch, Ext>(a, w.data(), b.data());
}

/// Binary / ternary weights with activations binarized once (binarize_activations).
template <class Arch = xsimd::default_arch, class F, class Mp, class G, class SF, class Ext = detail::lowbit_ext_default>
xt::xtensor<float, 2> linear(const binarized_activations& x, const quantized_tensor<F, Mp, G, 2, SF>& w) {
    static_assert(detail::bin_scheme_v<F, G>,
                  "linear(binarized_activations, W): needs binary or ternary weights with per_tensor or "
                  "per_channel<0> scales");
    detail::check_features(x.cols(), w.rows(), w.cols(), "linear(binarized_activations, quantized_tensor)");
    return detail::run_binary<Arch, Ext>(x.data(), w, nullptr);
}
template <class Arch = xsimd::default_arch, class F, class Mp, class G, class SF, class EB, class Ext = detail::lowbit_ext_default>
xt::xtensor<float, 2> linear(const binarized_activations& x, const quantized_tensor<F, Mp, G, 2, SF>& w,
                             const xt::xexpression<EB>& bias) {
    static_assert(detail::bin_scheme_v<F, G>,
                  "linear(binarized_activations, W): needs binary or ternary weights with per_tensor or "
                  "per_channel<0> scales");
    const char* what = "linear(binarized_activations, quantized_tensor, bias)";
    detail::check_features(x.cols(), w.rows(), w.cols(), what);
    const auto b = detail::prepare_bias(bias, w.rows(), what);
    return detail::run_binary<Arch, Ext>(x.data(), w, b.data());
}

}  // namespace compress

// Low-bit × sparse (Deep Compression) weights and their linear overloads.
#include "linear_sparse_lowbit.hpp"
