#pragma once
// Convolution (im2col + the library's GEMM) and max pooling, NCHW, PyTorch semantics.

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "../core/error.hpp"
#include "config.hpp"
#include "gemm.hpp"
#include "module.hpp"
#include "parameter.hpp"

namespace compress::nn {
inline namespace COMPRESS_NN_ABI {

struct conv2d_options {
    std::size_t stride = 1;
    std::size_t padding = 0;  ///< zero padding on each side
    bool bias = true;
};

/// 2-d convolution (cross-correlation, as torch.nn.Conv2d), square kernel, x [batch, in_channels,
/// H, W] -> [batch, out_channels, OH, OW] with OH = (H + 2·padding − kernel) / stride + 1.
/// Parameters `weight` [out, in, k, k] and `bias` [out], initialised like PyTorch
/// (Kaiming-uniform a = √5, bias U(±1/√fan_in), fan_in = in·k·k).
///
/// Computed per sample with the library's GEMM: the sample is unfolded (im2col) into an
/// [in·k·k, OH·OW] matrix that stays in cache, and W [out, in·k·k] times it is the output.
/// Backward unfolds again, accumulates dW += g·colᵀ and folds Wᵀ·g back (col2im) for the input
/// gradient. Samples are split across OpenMP threads (COMPRESS_USE_OPENMP); the per-thread dW
/// are summed in thread order, so a run is reproducible for a given thread count.
class conv2d final : public detail::module_impl<conv2d> {
public:
    conv2d(std::size_t in_channels, std::size_t out_channels, std::size_t kernel_size, generator& gen,
           conv2d_options opt = {})
        : weight({out_channels, in_channels, kernel_size, kernel_size}),
          in_(in_channels), out_(out_channels), k_(kernel_size), opt_(opt) {
        if (in_channels == 0 || out_channels == 0 || kernel_size == 0 || opt.stride == 0) {
            throw value_error("conv2d: channels, kernel_size and stride must be positive, got in_channels=" +
                              std::to_string(in_channels) + ", out_channels=" + std::to_string(out_channels) +
                              ", kernel_size=" + std::to_string(kernel_size) + ", stride=" + std::to_string(opt.stride));
        }
        const std::size_t fan_in = in_channels * kernel_size * kernel_size;
        kaiming_uniform(weight.value, fan_in, std::sqrt(5.0), gen);
        if (opt_.bias) {
            bias = param<1>({out_channels});
            bias_uniform(bias.value, fan_in, gen);
        }
    }

    param<4> weight;
    param<1> bias;  ///< empty without bias

    std::size_t in_channels() const noexcept { return in_; }
    std::size_t out_channels() const noexcept { return out_; }
    std::size_t kernel_size() const noexcept { return k_; }
    const conv2d_options& options() const noexcept { return opt_; }

    std::string describe() const override {
        return "Conv2d(" + std::to_string(in_) + ", " + std::to_string(out_) + ", kernel_size=(" + std::to_string(k_) +
               ", " + std::to_string(k_) + "), stride=(" + std::to_string(opt_.stride) + ", " +
               std::to_string(opt_.stride) + "), padding=(" + std::to_string(opt_.padding) + ", " +
               std::to_string(opt_.padding) + ")" + (opt_.bias ? "" : ", bias=False") + ")";
    }
    void collect(const std::string& prefix, parameter_list& params, parameter_list&) override {
        params.push_back(parameter(prefix + "weight", &weight));
        if (opt_.bias) params.push_back(parameter(prefix + "bias", &bias));
    }

protected:
    tensor forward_impl(tensor x, bool) override {
        if (x.dimension() != 4 || x.shape()[1] != in_) {
            throw shape_error(where("conv2d") + ": input has shape " + compress::detail::shape_str(x.shape()) +
                              ", expected [batch, " + std::to_string(in_) + ", height, width]");
        }
        B_ = x.shape()[0];
        H_ = x.shape()[2];
        W_ = x.shape()[3];
        const std::size_t p = opt_.padding, s = opt_.stride;
        if (H_ + 2 * p < k_ || W_ + 2 * p < k_) {
            throw shape_error(where("conv2d") + ": input of shape " + compress::detail::shape_str(x.shape()) +
                              " is smaller than the kernel (" + std::to_string(k_) + ") with padding " +
                              std::to_string(p));
        }
        OH_ = (H_ + 2 * p - k_) / s + 1;
        OW_ = (W_ + 2 * p - k_) / s + 1;
        const std::size_t P = OH_ * OW_, ckk = in_ * k_ * k_, in_size = in_ * H_ * W_;
        const auto& w = weight.effective(pname("weight"));
        tensor y = tensor::from_shape({B_, out_, OH_, OW_});
        const float* b = opt_.bias ? bias.value.data() : nullptr;
        const float* px = x.data();
        float* py = y.data();
        for_samples([&](std::size_t t, std::size_t n0, std::size_t n1) {
            float* col = scratch(col_buf_, t, ckk * P);
            for (std::size_t n = n0; n < n1; ++n) {
                im2col(px + n * in_size, col);
                float* yn = py + n * out_ * P;
                detail::gemm(false, false, out_, P, ckk, 1.0f, w.data(), ckk, col, P, 0.0f, yn, P);
                if (b) {
                    for (std::size_t o = 0; o < out_; ++o) {
                        float* row = yn + o * P;
                        for (std::size_t i = 0; i < P; ++i) row[i] += b[o];
                    }
                }
            }
        });
        input_ = std::move(x);
        return y;
    }

    tensor backward_impl(tensor g, bool need_input_grad) override {
        if (input_.dimension() != 4) throw value_error(where("conv2d") + ": backward called before forward");
        if (g.dimension() != 4 || g.shape()[0] != B_ || g.shape()[1] != out_ || g.shape()[2] != OH_ ||
            g.shape()[3] != OW_) {
            throw shape_error(where("conv2d") + ": gradient has shape " + compress::detail::shape_str(g.shape()) +
                              ", expected " + compress::detail::shape_str(std::vector<std::size_t>{B_, out_, OH_, OW_}));
        }
        const std::size_t P = OH_ * OW_, ckk = in_ * k_ * k_, in_size = in_ * H_ * W_;
        const std::size_t wsize = out_ * ckk;
        const auto& w = weight.last_effective();
        tensor dx = need_input_grad ? tensor::from_shape({B_, in_, H_, W_}) : detail::empty_tensor();
        const int T = sample_threads();
        partial_.assign(static_cast<std::size_t>(T) * (wsize + out_), 0.0f);
        const float* px = input_.data();
        const float* pg = g.data();
        float* pdx = dx.data();
        // Per thread: dW_t = Σ_n g_n·col_nᵀ, db_t = Σ_n Σ_p g_n; dx_n = col2im(Wᵀ·g_n).
        // The per-thread sums are added in thread order (deterministic for a thread count).
        for_samples([&](std::size_t t, std::size_t n0, std::size_t n1) {
            float* col = scratch(col_buf_, t, ckk * P);
            float* dcol = need_input_grad ? scratch(dcol_buf_, t, ckk * P) : nullptr;
            float* dw = partial_.data() + t * (wsize + out_);
            float* db = dw + wsize;
            for (std::size_t n = n0; n < n1; ++n) {
                const float* gn = pg + n * out_ * P;
                im2col(px + n * in_size, col);
                detail::gemm(false, true, out_, ckk, P, 1.0f, gn, P, col, P, n == n0 ? 0.0f : 1.0f, dw, ckk);
                for (std::size_t o = 0; o < out_; ++o) {
                    const float* row = gn + o * P;
                    float sum = 0.0f;
                    for (std::size_t i = 0; i < P; ++i) sum += row[i];
                    db[o] += sum;
                }
                if (dcol) {
                    detail::gemm(true, false, ckk, P, out_, 1.0f, w.data(), ckk, gn, P, 0.0f, dcol, P);
                    col2im(dcol, pdx + n * in_size);
                }
            }
        });
        float* dW = weight.grad.data();
        std::copy(partial_.begin(), partial_.begin() + static_cast<std::ptrdiff_t>(wsize), dW);
        for (int t = 1; t < T; ++t) {
            const float* src = partial_.data() + static_cast<std::size_t>(t) * (wsize + out_);
            for (std::size_t i = 0; i < wsize; ++i) dW[i] += src[i];
        }
        weight.finish_grad(pname("weight"));
        if (opt_.bias) {
            float* db = bias.grad.data();
            for (std::size_t o = 0; o < out_; ++o) {
                float sum = 0.0f;
                for (int t = 0; t < T; ++t) sum += partial_[static_cast<std::size_t>(t) * (wsize + out_) + wsize + o];
                db[o] = sum;
            }
        }
        return dx;
    }

private:
    std::string pname(const char* p) const { return name().empty() ? std::string(p) : name() + "." + p; }

    int sample_threads() const {
        return static_cast<int>(std::max<std::size_t>(1, std::min<std::size_t>(detail::max_threads(), B_)));
    }
    /// Calls f(thread, first, last) on contiguous ranges of samples, one per thread.
    template <class F>
    void for_samples(F&& f) {
        const int T = sample_threads();
        col_buf_.resize(static_cast<std::size_t>(T));
        dcol_buf_.resize(static_cast<std::size_t>(T));
        auto range = [&](int t) {
            const std::size_t n0 = B_ * static_cast<std::size_t>(t) / static_cast<std::size_t>(T);
            const std::size_t n1 = B_ * (static_cast<std::size_t>(t) + 1) / static_cast<std::size_t>(T);
            if (n0 < n1) f(static_cast<std::size_t>(t), n0, n1);
        };
#if COMPRESS_NN_OPENMP
        if (T > 1) {
#pragma omp parallel for num_threads(T) schedule(static, 1)
            for (int t = 0; t < T; ++t) range(t);
            return;
        }
#endif
        range(0);
    }
    static float* scratch(std::vector<std::vector<float>>& bufs, std::size_t t, std::size_t n) {
        if (bufs[t].size() < n) bufs[t].resize(n);
        return bufs[t].data();
    }

    // One sample: col[r, oh·OW + ow] = x[c, oh·s + ki − p, ow·s + kj − p] (0 outside),
    // r = (c·k + ki)·k + kj.
    void im2col(const float* x, float* col) const {
        const std::size_t P = OH_ * OW_;
        const long pad = static_cast<long>(opt_.padding), st = static_cast<long>(opt_.stride);
        const long H = static_cast<long>(H_), W = static_cast<long>(W_);
        for (std::size_t c = 0; c < in_; ++c) {
            const float* plane = x + c * H_ * W_;
            for (std::size_t ki = 0; ki < k_; ++ki) {
                for (std::size_t kj = 0; kj < k_; ++kj) {
                    float* dst = col + ((c * k_ + ki) * k_ + kj) * P;
                    // Output columns whose input column is inside the image: [ow_lo, ow_hi).
                    const long off = static_cast<long>(kj) - pad;
                    const long ow_lo = off >= 0 ? 0 : (-off + st - 1) / st;
                    long ow_hi = (W - 1 - off) < 0 ? 0 : (W - 1 - off) / st + 1;
                    ow_hi = std::min<long>(ow_hi, static_cast<long>(OW_));
                    for (std::size_t oh = 0; oh < OH_; ++oh) {
                        const long ih = static_cast<long>(oh) * st + static_cast<long>(ki) - pad;
                        float* d = dst + oh * OW_;
                        if (ih < 0 || ih >= H || ow_lo >= ow_hi) {
                            std::fill(d, d + OW_, 0.0f);
                            continue;
                        }
                        const float* row = plane + ih * W;
                        for (long ow = 0; ow < ow_lo; ++ow) d[ow] = 0.0f;
                        if (st == 1) {
                            for (long ow = ow_lo; ow < ow_hi; ++ow) d[ow] = row[ow + off];
                        } else {
                            for (long ow = ow_lo; ow < ow_hi; ++ow) d[ow] = row[ow * st + off];
                        }
                        for (long ow = ow_hi; ow < static_cast<long>(OW_); ++ow) d[ow] = 0.0f;
                    }
                }
            }
        }
    }

    // The adjoint of im2col for one sample: dx = Σ over (r, position) of dcol scattered back.
    void col2im(const float* dcol, float* dx) const {
        const std::size_t P = OH_ * OW_;
        const long pad = static_cast<long>(opt_.padding), st = static_cast<long>(opt_.stride);
        const long H = static_cast<long>(H_), W = static_cast<long>(W_);
        std::fill(dx, dx + in_ * H_ * W_, 0.0f);
        for (std::size_t c = 0; c < in_; ++c) {
            float* plane = dx + c * H_ * W_;
            for (std::size_t ki = 0; ki < k_; ++ki) {
                for (std::size_t kj = 0; kj < k_; ++kj) {
                    const float* src = dcol + ((c * k_ + ki) * k_ + kj) * P;
                    const long off = static_cast<long>(kj) - pad;
                    const long ow_lo = off >= 0 ? 0 : (-off + st - 1) / st;
                    long ow_hi = (W - 1 - off) < 0 ? 0 : (W - 1 - off) / st + 1;
                    ow_hi = std::min<long>(ow_hi, static_cast<long>(OW_));
                    for (std::size_t oh = 0; oh < OH_; ++oh) {
                        const long ih = static_cast<long>(oh) * st + static_cast<long>(ki) - pad;
                        if (ih < 0 || ih >= H) continue;
                        float* row = plane + ih * W;
                        const float* s = src + oh * OW_;
                        if (st == 1) {
                            for (long ow = ow_lo; ow < ow_hi; ++ow) row[ow + off] += s[ow];
                        } else {
                            for (long ow = ow_lo; ow < ow_hi; ++ow) row[ow * st + off] += s[ow];
                        }
                    }
                }
            }
        }
    }

    std::size_t in_, out_, k_;
    conv2d_options opt_;
    std::size_t B_ = 0, H_ = 0, W_ = 0, OH_ = 0, OW_ = 0;
    tensor input_;
    std::vector<std::vector<float>> col_buf_, dcol_buf_;  // per-thread scratch
    std::vector<float> partial_;                          // per-thread dW, db
};

/// 2-d max pooling (torch.nn.MaxPool2d, floor mode), square window; stride 0 means stride =
/// kernel_size; padding (at most kernel_size / 2, as PyTorch requires) pads with −∞. The
/// gradient goes to the first maximum of each window (row-major order).
class max_pool2d final : public detail::module_impl<max_pool2d> {
public:
    explicit max_pool2d(std::size_t kernel_size, std::size_t stride = 0, std::size_t padding = 0)
        : k_(kernel_size), s_(stride == 0 ? kernel_size : stride), p_(padding) {
        if (kernel_size == 0) throw value_error("max_pool2d: kernel_size must be positive");
        if (2 * padding > kernel_size) {
            throw value_error("max_pool2d: padding " + std::to_string(padding) + " is more than half the kernel size " +
                              std::to_string(kernel_size));
        }
    }
    std::string describe() const override {
        return "MaxPool2d(kernel_size=" + std::to_string(k_) + ", stride=" + std::to_string(s_) +
               ", padding=" + std::to_string(p_) + ")";
    }

protected:
    tensor forward_impl(tensor x, bool) override {
        if (x.dimension() != 4) {
            throw shape_error(where("max_pool2d") + ": input has shape " + compress::detail::shape_str(x.shape()) +
                              ", expected [batch, channels, height, width]");
        }
        in_shape_.assign(x.shape().begin(), x.shape().end());
        const std::size_t B = x.shape()[0], C = x.shape()[1], H = x.shape()[2], W = x.shape()[3];
        if (H + 2 * p_ < k_ || W + 2 * p_ < k_) {
            throw shape_error(where("max_pool2d") + ": input of shape " + compress::detail::shape_str(x.shape()) +
                              " is smaller than the window (" + std::to_string(k_) + ")");
        }
        OH_ = (H + 2 * p_ - k_) / s_ + 1;
        OW_ = (W + 2 * p_ - k_) / s_ + 1;
        tensor y = tensor::from_shape({B, C, OH_, OW_});
        arg_.resize(y.size());
        const float* px = x.data();
        float* py = y.data();
        const long Hl = static_cast<long>(H), Wl = static_cast<long>(W);
#if COMPRESS_NN_OPENMP
#pragma omp parallel for num_threads(detail::max_threads()) schedule(static) if (B * C * H * W > 65536)
#endif
        for (long plane = 0; plane < static_cast<long>(B * C); ++plane) {
            const float* in = px + static_cast<std::size_t>(plane) * H * W;
            float* out = py + static_cast<std::size_t>(plane) * OH_ * OW_;
            std::uint32_t* arg = arg_.data() + static_cast<std::size_t>(plane) * OH_ * OW_;
            if (k_ == 2 && s_ == 2 && p_ == 0) {
                pool2x2(in, W, out, arg);
                continue;
            }
            for (std::size_t oh = 0; oh < OH_; ++oh) {
                // Rows and columns of the window inside the image (padding is -inf).
                const long h0 = static_cast<long>(oh * s_) - static_cast<long>(p_);
                const long ih0 = std::max(0L, h0), ih1 = std::min(Hl, h0 + static_cast<long>(k_));
                for (std::size_t ow = 0; ow < OW_; ++ow) {
                    const long w0 = static_cast<long>(ow * s_) - static_cast<long>(p_);
                    const long iw0 = std::max(0L, w0), iw1 = std::min(Wl, w0 + static_cast<long>(k_));
                    // PyTorch's rule: start at the window's first valid position, take a value
                    // when it is larger or NaN (so NaN propagates; ties keep the first).
                    float best = -std::numeric_limits<float>::infinity();
                    auto best_i = static_cast<std::uint32_t>(ih0 * Wl + iw0);
                    for (long ih = ih0; ih < ih1; ++ih) {
                        for (long iw = iw0; iw < iw1; ++iw) {
                            const float v = in[ih * Wl + iw];
                            if (v > best || v != v) {
                                best = v;
                                best_i = static_cast<std::uint32_t>(ih * Wl + iw);
                            }
                        }
                    }
                    out[oh * OW_ + ow] = best;
                    arg[oh * OW_ + ow] = best_i;
                }
            }
        }
        return y;
    }

    tensor backward_impl(tensor g, bool need_input_grad) override {
        if (in_shape_.empty()) throw value_error(where("max_pool2d") + ": backward called before forward");
        const std::size_t B = in_shape_[0], C = in_shape_[1], H = in_shape_[2], W = in_shape_[3];
        if (g.dimension() != 4 || g.shape()[0] != B || g.shape()[1] != C || g.shape()[2] != OH_ || g.shape()[3] != OW_) {
            throw shape_error(where("max_pool2d") + ": gradient has shape " + compress::detail::shape_str(g.shape()) +
                              ", expected " + compress::detail::shape_str(std::vector<std::size_t>{B, C, OH_, OW_}));
        }
        if (!need_input_grad) return detail::empty_tensor();
        tensor dx = tensor::from_shape(in_shape_);
        std::fill(dx.begin(), dx.end(), 0.0f);
        const std::size_t per_in = H * W, per_out = OH_ * OW_;
        const float* pg = g.data();
        float* pd = dx.data();
        for (std::size_t plane = 0; plane < B * C; ++plane) {
            for (std::size_t o = 0; o < per_out; ++o) {
                const std::size_t i = plane * per_out + o;
                pd[plane * per_in + arg_[i]] += pg[i];
            }
        }
        return dx;
    }

private:
    // The common 2x2 / stride 2 window without padding, same selection rule.
    void pool2x2(const float* in, std::size_t W, float* out, std::uint32_t* arg) const {
        for (std::size_t oh = 0; oh < OH_; ++oh) {
            const float* r0 = in + 2 * oh * W;
            const float* r1 = r0 + W;
            const auto base = static_cast<std::uint32_t>(2 * oh * W);
            for (std::size_t ow = 0; ow < OW_; ++ow) {
                const std::size_t c = 2 * ow;
                float best = r0[c];
                std::uint32_t bi = base + static_cast<std::uint32_t>(c);
                const float v1 = r0[c + 1], v2 = r1[c], v3 = r1[c + 1];
                if (v1 > best || v1 != v1) { best = v1; bi = base + static_cast<std::uint32_t>(c + 1); }
                if (v2 > best || v2 != v2) { best = v2; bi = base + static_cast<std::uint32_t>(W + c); }
                if (v3 > best || v3 != v3) { best = v3; bi = base + static_cast<std::uint32_t>(W + c + 1); }
                out[oh * OW_ + ow] = best;
                arg[oh * OW_ + ow] = bi;
            }
        }
    }

    std::size_t k_, s_, p_;
    std::size_t OH_ = 0, OW_ = 0;
    std::vector<std::size_t> in_shape_;
    std::vector<std::uint32_t> arg_;
};

}  // namespace COMPRESS_NN_ABI
}  // namespace compress::nn
