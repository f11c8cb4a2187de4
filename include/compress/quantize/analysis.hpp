#pragma once
// Quantization error reports (MSE, SQNR, max abs error, per channel on request) and
// bias correction after weight quantization (Nagel et al. 2019). Part of quantize.hpp.

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <limits>
#include <string>
#include <type_traits>
#include <vector>

#include <xtensor/xtensor.hpp>

#include "../core/error.hpp"
#include "../core/tensor.hpp"
#include "quantized_tensor.hpp"

namespace compress {

/// Error of an approximation ŵ of w.
struct quantization_error {
    double mse = 0.0;      ///< mean of (w − ŵ)²
    double sqnr_db = 0.0;  ///< 10·log10(Σw² / Σ(w − ŵ)²); +inf when ŵ = w exactly
    double max_abs = 0.0;  ///< max |w − ŵ|
    std::size_t count = 0;
};

/// error_report's result: the whole tensor and, on request, each output channel (row of the
/// 2-d view [d0, d1·…·dn]).
struct error_report_result {
    quantization_error total;
    std::vector<quantization_error> channels;
};

namespace detail {

template <class T>
struct is_quantized_tensor : std::false_type {};
template <class F, class M, class G, std::size_t N, class S>
struct is_quantized_tensor<quantized_tensor<F, M, G, N, S>> : std::true_type {};

struct error_acc {
    double sig = 0.0, noise = 0.0, max_abs = 0.0;
    std::size_t n = 0;
    void add(double w, double a) {
        const double d = w - a;
        sig += w * w;
        noise += d * d;
        max_abs = std::max(max_abs, std::fabs(d));
        ++n;
    }
    quantization_error result() const {
        quantization_error e;
        e.count = n;
        e.mse = n ? noise / static_cast<double>(n) : 0.0;
        e.max_abs = max_abs;
        e.sqnr_db = noise == 0.0 ? std::numeric_limits<double>::infinity()
                                 : (sig == 0.0 ? -std::numeric_limits<double>::infinity() : 10.0 * std::log10(sig / noise));
        return e;
    }
};

template <class E>
xt::xtensor<float, 1> flat_floats(const E& e) {
    xt::xtensor<float, 1> out = xt::xtensor<float, 1>::from_shape({static_cast<std::size_t>(e.size())});
    std::size_t i = 0;
    for (auto it = e.cbegin(); it != e.cend(); ++it) out(i++) = static_cast<float>(*it);
    return out;
}

}  // namespace detail

/// Compares w with its quantized form q (a quantized_tensor, or any tensor such as a
/// fake-quantized or dequantized one). Throws shape_error when the shapes differ and
/// value_error when w holds NaN/Inf.
template <class E, class Q>
error_report_result error_report(const xt::xexpression<E>& w, const Q& q, bool per_channel = false) {
    const auto& we = w.derived_cast();
    detail::check_finite(w, "w");
    std::vector<std::size_t> wshape(we.shape().begin(), we.shape().end());
    xt::xtensor<float, 1> approx;
    std::vector<std::size_t> qshape;
    if constexpr (detail::is_quantized_tensor<Q>::value) {
        qshape.assign(q.shape().begin(), q.shape().end());
        if (qshape == wshape) approx = detail::flat_floats(q.dequantize());
    } else {
        const auto& qe = q;
        qshape.assign(qe.shape().begin(), qe.shape().end());
        if (qshape == wshape) approx = detail::flat_floats(qe);
    }
    if (qshape != wshape) {
        throw shape_error("error_report: w of shape " + detail::shape_str(wshape) +
                          " and its quantization of shape " + detail::shape_str(qshape) + " differ");
    }
    const xt::xtensor<float, 1> ref = detail::flat_floats(we);
    const std::size_t rows = wshape.size() <= 1 ? 1 : wshape[0];
    const std::size_t cols = rows ? ref.size() / std::max<std::size_t>(rows, 1) : 0;
    error_report_result out;
    detail::error_acc total;
    std::vector<detail::error_acc> ch(per_channel ? rows : 0);
    for (std::size_t i = 0; i < ref.size(); ++i) {
        total.add(ref(i), approx(i));
        if (per_channel) ch[cols ? i / cols : 0].add(ref(i), approx(i));
    }
    out.total = total.result();
    for (const auto& c : ch) out.channels.push_back(c.result());
    return out;
}

/// Bias correction (Nagel et al. 2019, "Data-free quantization", empirical form): the
/// expected output error of a linear layer y = W·x + b after replacing W by Ŵ is
/// E[(W − Ŵ)·x] = (W − Ŵ)·E[x]; the corrected bias b + (W − Ŵ)·E[x] removes it.
///   w, w_hat: [out, in]; x: calibration activations [batch, in]; bias: [out] (or empty = 0).
///   Conv weights [out, in, kh, kw] with activations [batch, in, H, W] use the per-channel
///   mean of x (padding ignored): b + Σ_{c,i,j} (W − Ŵ)[o,c,i,j] · E[x_c].
/// Throws shape_error on mismatched shapes, value_error on NaN/Inf or an empty batch.
template <class EW, class EQ, class EX, class EB>
xt::xtensor<float, 1> bias_correction(const xt::xexpression<EW>& w, const xt::xexpression<EQ>& w_hat,
                                      const xt::xexpression<EX>& x, const xt::xexpression<EB>& bias) {
    const auto& we = w.derived_cast();
    const auto& qe = w_hat.derived_cast();
    const auto& xe = x.derived_cast();
    const auto& be = bias.derived_cast();
    detail::check_finite(w, "w");
    detail::check_finite(w_hat, "w_hat");
    detail::check_finite(x, "x");
    detail::check_finite(bias, "bias");
    const std::size_t rank = we.dimension();
    if (rank != 2 && rank != 4) {
        throw shape_error("bias_correction: weight must be [out, in] or [out, in, kh, kw], got shape " +
                          detail::shape_str(we.shape()));
    }
    std::vector<std::size_t> ws(we.shape().begin(), we.shape().end()), qs(qe.shape().begin(), qe.shape().end());
    if (ws != qs) {
        throw shape_error("bias_correction: w of shape " + detail::shape_str(ws) + " and w_hat of shape " +
                          detail::shape_str(qs) + " differ");
    }
    const std::size_t out = ws[0], in = ws[1];
    if (xe.dimension() != rank || static_cast<std::size_t>(xe.shape()[1]) != in) {
        throw shape_error("bias_correction: activations of shape " + detail::shape_str(xe.shape()) + " do not fit a weight of shape " +
                          detail::shape_str(ws) + (rank == 2 ? " (need [batch, in])" : " (need [batch, in, H, W])"));
    }
    if (be.size() != 0 && (be.dimension() != 1 || static_cast<std::size_t>(be.shape()[0]) != out)) {
        throw shape_error("bias_correction: bias of shape " + detail::shape_str(be.shape()) + " does not fit " +
                          std::to_string(out) + " outputs");
    }
    const std::size_t batch = static_cast<std::size_t>(xe.shape()[0]);
    if (batch == 0 || xe.size() == 0) throw value_error("bias_correction: no calibration activations (empty batch)");
    // E[x] per input channel
    const xt::xtensor<float, 1> xf = detail::flat_floats(xe);
    const std::size_t per_sample = xf.size() / batch;
    const std::size_t spatial = per_sample / in;
    std::vector<double> mean(in, 0.0);
    for (std::size_t b = 0; b < batch; ++b) {
        for (std::size_t c = 0; c < in; ++c) {
            const float* p = xf.data() + b * per_sample + c * spatial;
            double s = 0.0;
            for (std::size_t k = 0; k < spatial; ++k) s += p[k];
            mean[c] += s;
        }
    }
    for (double& m : mean) m /= static_cast<double>(batch * spatial);
    const xt::xtensor<float, 1> wf = detail::flat_floats(we), qf = detail::flat_floats(qe);
    const std::size_t ksz = wf.size() / std::max<std::size_t>(out * in, 1);
    xt::xtensor<float, 1> result = xt::zeros<float>({out});
    const xt::xtensor<float, 1> bf = detail::flat_floats(be);
    for (std::size_t o = 0; o < out; ++o) {
        double d = 0.0;
        for (std::size_t c = 0; c < in; ++c) {
            double dw = 0.0;
            for (std::size_t k = 0; k < ksz; ++k) {
                const std::size_t i = (o * in + c) * ksz + k;
                dw += static_cast<double>(wf(i)) - static_cast<double>(qf(i));
            }
            d += dw * mean[c];
        }
        result(o) = static_cast<float>((bf.size() ? static_cast<double>(bf(o)) : 0.0) + d);
    }
    return result;
}

/// bias_correction with the quantized weight given as a quantized_tensor.
template <class EW, class F, class M, class G, std::size_t N, class S, class EX, class EB>
xt::xtensor<float, 1> bias_correction(const xt::xexpression<EW>& w, const quantized_tensor<F, M, G, N, S>& q,
                                      const xt::xexpression<EX>& x, const xt::xexpression<EB>& bias) {
    return bias_correction(w, q.dequantize(), x, bias);
}

}  // namespace compress
