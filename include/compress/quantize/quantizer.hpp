#pragma once
// compress::quantizer<Format, Mapping, Granularity, Observer, Rounding, ScaleFormat>:
// calibration (observe / freeze), quantize → quantized_tensor, fake_quantize and its
// straight-through gradient for QAT. Part of quantize.hpp.

#include <array>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>
#include <type_traits>
#include <vector>

#include <xsimd/xsimd.hpp>
#include <xtensor/xtensor.hpp>

#include "../core/arch.hpp"
#include "../core/error.hpp"
#include "../core/mask.hpp"
#include "../core/tensor.hpp"
#include "kernels.hpp"
#include "layout.hpp"
#include "observers.hpp"
#include "policies.hpp"
#include "qparams.hpp"
#include "quantized_tensor.hpp"

namespace compress {

namespace detail {

template <class S, class = void>
struct static_rank_of : std::integral_constant<std::size_t, 0> {};
template <class T, std::size_t K>
struct static_rank_of<std::array<T, K>> : std::integral_constant<std::size_t, K> {};

/// Rank of an expression whose shape is a std::array (xt::xtensor and expressions of them).
template <class E>
inline constexpr std::size_t static_rank_v = static_rank_of<std::decay_t<typename E::shape_type>>::value;

/// A contiguous row-major float view of an expression: the data of an xt::xtensor<float, N>
/// itself, otherwise an evaluated copy.
template <std::size_t N>
struct float_input {
    xt::xtensor<float, N> holder;
    const float* data = nullptr;
    std::array<std::size_t, N> shape{};
    std::size_t size = 0;

    template <class E>
    explicit float_input(const xt::xexpression<E>& expr) {
        const auto& e = expr.derived_cast();
        if constexpr (std::is_same_v<std::decay_t<E>, xt::xtensor<float, N>>) {
            data = e.data();
        } else {
            holder = e;
            data = holder.data();
        }
        for (std::size_t d = 0; d < N; ++d) shape[d] = static_cast<std::size_t>(e.shape()[d]);
        size = 1;
        for (auto v : shape) size *= v;
    }
};

/// Per-slot parameters used by an encode pass.
struct block_params {
    std::vector<qparams> p;
    std::vector<float> inv;    ///< 1/scale in float (PyTorch's reciprocal)
    std::vector<float> delta;  ///< ternary thresholds

    void resize(std::size_t n) {
        p.assign(n, qparams{});
        inv.assign(n, 1.0f);
    }
    void set(std::size_t s, const qparams& q) {
        p[s] = q;
        inv[s] = 1.0f / q.scale;
    }
};

}  // namespace detail

namespace detail {
template <class F, class M, class G, class O, class R, class S>
constexpr bool scheme_valid() noexcept {
    if constexpr (!(is_policy_v<F, policy::format> && is_policy_v<M, policy::mapping> &&
                    is_policy_v<G, policy::granularity> && is_policy_v<O, policy::observer> &&
                    is_policy_v<R, policy::rounding>)) {
        return false;
    } else {
        return mapping_fits_v<F, M> && granularity_fits_v<F, G> && scale_format_fits_v<S> && rounding_fits_v<F, R> &&
               observer_fits_v<F, O>;
    }
}
}  // namespace detail

/// True when `quantizer<Format, Mapping, Granularity, Observer, Rounding, ScaleFormat>` is a valid
/// scheme (the same rules its static_asserts enforce): for code that enumerates schemes, such as a
/// runtime layer mapping names onto types.
template <class Format, class Mapping = symmetric, class Granularity = per_tensor, class Observer = minmax,
          class Rounding = nearest_even, class ScaleFormat = float>
inline constexpr bool is_valid_scheme_v =
    detail::scheme_valid<Format, Mapping, Granularity, Observer, Rounding, ScaleFormat>();

/// The quantization scheme as a type:
/// `using q4 = quantizer<int4, symmetric, per_group<32>>;` then `q4{}.quantize(w)`.
///
/// - Weights: `quantize(w)` computes each block's range with the Observer from w itself
///   (one-shot), unless the quantizer was calibrated (observe() called), in which case the
///   calibrated ranges are used.
/// - Activations: `observe(x)` per calibration batch, `freeze()`, then `quantize(x)`.
/// - QAT: `fake_quantize(w)` observes w (unless frozen), then quantizes and dequantizes with the
///   accumulated ranges; `ste_gradient(w, g)` passes g where w was inside the clamp range.
/// binary and ternary take α from the tensor itself (XNOR-Net, TWN); the Observer is unused.
template <class Format, class Mapping = symmetric, class Granularity = per_tensor, class Observer = minmax,
          class Rounding = nearest_even, class ScaleFormat = float>
class quantizer {
    static_assert(detail::check_scheme<Format, Mapping, Granularity, ScaleFormat>::ok);
    COMPRESS_REQUIRE_POLICY(Observer, observer,
                            "quantizer: the Observer must be minmax, moving_average_minmax, percentile, mse_search "
                            "or histogram_kl");
    COMPRESS_REQUIRE_POLICY(Rounding, rounding, "quantizer: the Rounding must be nearest_even or stochastic");
    static_assert(detail::rounding_fits_v<Format, Rounding>, "stochastic rounding is for integer and pow2 formats");
    static_assert(detail::observer_fits_v<Format, Observer>,
                  "histogram_kl needs an integer format (int8, uint8, int4, uint4, int2)");

    static constexpr bool alpha_format =
        Format::family == format_family::binary || Format::family == format_family::ternary;

public:
    using format = Format;
    using mapping = Mapping;
    using granularity = Granularity;
    using observer_type = Observer;
    using rounding_type = Rounding;
    using scale_format = ScaleFormat;
    template <std::size_t N>
    using tensor_type = quantized_tensor<Format, Mapping, Granularity, N, ScaleFormat>;

    quantizer() = default;
    explicit quantizer(Observer obs, Rounding rounding = {}) : observer_(std::move(obs)), rounding_(rounding) {}

    Observer& observer() noexcept { return observer_; }
    const Observer& observer() const noexcept { return observer_; }
    Rounding& rounding() noexcept { return rounding_; }
    const Rounding& rounding() const noexcept { return rounding_; }

    // ------------------------------------------------------------------ calibration

    /// Accumulates one batch into the observer, one range per block of the granularity.
    /// Ignored when frozen. Throws value_error on NaN/Inf (with the position) and
    /// shape_error when the blocks differ from the ones calibrated so far.
    /// (Arch, like every SIMD entry point, keeps builds with different -m flags apart.)
    template <class Arch = xsimd::default_arch, class E>
    void observe(const xt::xexpression<E>& expr, const std::string& name = {}) {
        static_assert(!alpha_format, "binary and ternary compute α from the weights they quantize (XNOR-Net, TWN): "
                                     "they have no calibration");
        constexpr std::size_t N = detail::static_rank_v<E>;
        static_assert(N >= 1, "quantizer::observe needs a tensor of static rank >= 1 (xt::xtensor<float, N>)");
        if (observer_.frozen()) return;
        detail::float_input<N> in(expr);
        detail::block_layout<Granularity, N> L(in.shape);
        check_finite_fast<Arch>(in, expr, name);
        if (observer_.slots() == 0) {
            observer_.reset(L.slots);
        } else if (observer_.slots() != L.slots) {
            throw shape_error(std::string("quantizer::observe: ") + detail::where(name) + " of shape " +
                              detail::shape_str(in.shape) + " has " + std::to_string(L.slots) + " " +
                              Granularity::name() + " blocks, but " + std::to_string(observer_.slots()) +
                              " were calibrated");
        }
        for_each_slot_values(in, L, [&](std::size_t s, const float* v, std::size_t n) { observer_.observe_slot(s, v, n); });
        observer_.count_batch();
    }

    /// Stops calibration: later observe() / fake_quantize() calls keep the ranges.
    void freeze() noexcept { observer_.freeze(); }
    void unfreeze() noexcept { observer_.unfreeze(); }
    bool frozen() const noexcept { return observer_.frozen(); }
    /// True once a batch was observed.
    bool calibrated() const noexcept { return observer_.batches() > 0; }
    /// Forgets the calibration (keeps the frozen flag).
    void reset() { observer_.reset(); }

    /// Calibrated scale / zero point of every block (empty before calibration).
    std::vector<qparams> calibrated_params() const {
        std::vector<qparams> out;
        if constexpr (!alpha_format) {
            for (std::size_t s = 0; s < observer_.slots(); ++s) {
                out.push_back(compute_qparams<Format, Mapping, ScaleFormat>(
                    observer_.template range<Format, Mapping, ScaleFormat>(s)));
            }
        }
        return out;
    }

    // ------------------------------------------------------------------ quantize

    /// Quantizes w into packed codes + scales (+ zero points). Throws value_error on NaN/Inf
    /// (naming the position), shape_error when the granularity does not fit w (axis out of
    /// range, rejected partial group, blocks differing from the calibrated ones).
    template <class Arch = xsimd::default_arch, class E>
    auto quantize(const xt::xexpression<E>& expr, const std::string& name = {}) const {
        constexpr std::size_t N = detail::static_rank_v<E>;
        static_assert(N >= 1, "quantizer::quantize needs a tensor of static rank >= 1 (xt::xtensor<float, N>)");
        detail::float_input<N> in(expr);
        tensor_type<N> q(in.shape);
        const auto& L = q.layout();
        detail::block_params P;
        bool fused = false;
        if constexpr (row_local_blocks<N>()) {
            if (!calibrated()) {
                // every block lies inside one row: observe and encode each row while it is in cache
                fused = true;
                P.resize(L.slots);
                std::vector<std::int32_t> codes(L.cols);
                for (std::size_t r = 0; r < L.rows; ++r) {
                    bool finite = true;
                    L.for_each_run(r, [&](std::size_t c0, std::size_t len, std::size_t s) {
                        float lo = std::numeric_limits<float>::infinity(), hi = -lo;
                        finite = detail::span_minmax<Arch>(in.data + r * L.cols + c0, len, lo, hi) && finite;
                        P.set(s, compute_qparams<Format, Mapping, ScaleFormat>(len ? clip_range{lo, hi, true}
                                                                                   : clip_range{}));
                    });
                    if (!finite) detail::check_finite(expr, name);
                    encode_row<Arch>(in, L, P, q, r, codes);
                }
            }
        }
        if (!fused) {
            P = params_for<Arch>(in, L, expr, name);
            encode<Arch>(in, L, P, q);
        }
        for (std::size_t s = 0; s < L.slots; ++s) {
            q.scales()[s] = detail::encode_scale<ScaleFormat>(P.p[s].scale);
            if constexpr (Mapping::is_affine) q.zero_points()[s] = static_cast<typename tensor_type<N>::zero_point_type>(P.p[s].zero_point);
        }
        return q;
    }

    // ------------------------------------------------------------------ QAT

    /// Quantize-dequantize in float (for the forward pass of quantization-aware training).
    /// Unless frozen, w is observed first (PyTorch FakeQuantize semantics); the ranges used are
    /// the accumulated ones, or w's own when nothing was observed. binary / ternary use w's α.
    template <class Arch = xsimd::default_arch, class E>
    auto fake_quantize(const xt::xexpression<E>& expr, const std::string& name = {}) {
        constexpr std::size_t N = detail::static_rank_v<E>;
        static_assert(N >= 1, "quantizer::fake_quantize needs a tensor of static rank >= 1 (xt::xtensor<float, N>)");
        if constexpr (!alpha_format) {
            if (!observer_.frozen()) observe<Arch>(expr, name);
        }
        detail::float_input<N> in(expr);
        detail::block_layout<Granularity, N> L(in.shape);
        detail::block_params P = params_for<Arch>(in, L, expr, name);
        xt::xtensor<float, N> out = xt::xtensor<float, N>::from_shape(in.shape);
        float* o = out.data();
        for (std::size_t r = 0; r < L.rows; ++r) {
            const float* x = in.data + r * L.cols;
            L.for_each_run(r, [&](std::size_t c0, std::size_t len, std::size_t s) {
                for (std::size_t k = c0; k < c0 + len; ++k) {
                    o[r * L.cols + k] = fake_value(x[k], P, s, r * L.cols + k);
                }
            });
        }
        last_ = P;
        return out;
    }

    /// The straight-through estimator mask of the last fake_quantize: 1 where w·inv + zp lies in
    /// [qmin, qmax] before clamping (gradient passes), 0 where it was clamped. binary/ternary:
    /// |w| <= 1. Throws value_error before any fake_quantize, shape_error on a shape change.
    template <class E>
    auto ste_mask(const xt::xexpression<E>& expr) const {
        constexpr std::size_t N = detail::static_rank_v<E>;
        detail::float_input<N> in(expr);
        detail::block_layout<Granularity, N> L(in.shape);
        if (last_.p.empty() && L.slots > 0) {
            throw value_error("quantizer::ste_mask: call fake_quantize first (the mask uses its parameters)");
        }
        if (last_.p.size() != L.slots) {
            throw shape_error("quantizer::ste_mask: tensor of shape " + detail::shape_str(in.shape) + " has " +
                              std::to_string(L.slots) + " blocks, the last fake_quantize had " +
                              std::to_string(last_.p.size()));
        }
        mask<N> m(in.shape, false);
        std::uint8_t* f = m.data();
        for (std::size_t r = 0; r < L.rows; ++r) {
            const float* x = in.data + r * L.cols;
            L.for_each_run(r, [&](std::size_t c0, std::size_t len, std::size_t s) {
                for (std::size_t k = c0; k < c0 + len; ++k) {
                    f[r * L.cols + k] = detail::ste_pass<Format>(x[k], last_.p[s], last_.inv[s]) ? 1 : 0;
                }
            });
        }
        return m;
    }

    /// Straight-through gradient: grad where the last fake_quantize did not clamp w, else 0.
    /// Throws shape_error when grad and w differ in shape.
    template <class E, class EG>
    auto ste_gradient(const xt::xexpression<E>& w, const xt::xexpression<EG>& grad) const {
        constexpr std::size_t N = detail::static_rank_v<E>;
        const auto& g = grad.derived_cast();
        const auto& we = w.derived_cast();
        bool same = g.dimension() == N;
        for (std::size_t d = 0; same && d < N; ++d) same = g.shape()[d] == we.shape()[d];
        if (!same) {
            throw shape_error("quantizer::ste_gradient: gradient of shape " + detail::shape_str(g.shape()) +
                              " does not match the weight of shape " + detail::shape_str(we.shape()));
        }
        xt::xtensor<float, N> out = g;
        ste_mask(w).apply(out);
        return out;
    }

private:
    /// True when the one-shot observer is min/max and every block lies inside one row
    /// (per_channel<0> of a tensor of rank >= 2, per_group), so quantize() can fuse the passes.
    template <std::size_t N>
    static constexpr bool row_local_blocks() noexcept {
        if constexpr (alpha_format || !Observer::minmax_like) {
            return false;
        } else if constexpr (Granularity::kind == granularity_kind::group) {
            return true;
        } else if constexpr (Granularity::kind == granularity_kind::channel) {
            return Granularity::axis == 0 && N >= 2;
        } else {
            return false;
        }
    }

    template <class Arch, std::size_t N, class E>
    static void check_finite_fast(const detail::float_input<N>& in, const xt::xexpression<E>& expr,
                                  const std::string& name) {
        float lo = 0.0f, hi = 0.0f;
        if (!detail::span_minmax<Arch>(in.data, in.size, lo, hi)) detail::check_finite(expr, name);
    }

    /// Calls fn(slot, values, count) once per slot with all of the slot's values of `in`.
    template <std::size_t N, class Fn>
    static void for_each_slot_values(const detail::float_input<N>& in, const detail::block_layout<Granularity, N>& L,
                                     Fn&& fn) {
        if constexpr (Granularity::kind == granularity_kind::tensor) {
            (void)L;
            fn(std::size_t(0), in.data, in.size);  // the whole tensor is one batch of the one slot
            return;
        }
        if (L.contiguous_slots()) {
            for (std::size_t r = 0; r < L.rows; ++r) {
                L.for_each_run(r, [&](std::size_t c0, std::size_t len, std::size_t s) {
                    fn(s, in.data + r * L.cols + c0, len);
                });
            }
            return;
        }
        std::vector<std::vector<float>> per(L.slots);
        for (std::size_t r = 0; r < L.rows; ++r) {
            L.for_each_run(r, [&](std::size_t c0, std::size_t len, std::size_t s) {
                per[s].insert(per[s].end(), in.data + r * L.cols + c0, in.data + r * L.cols + c0 + len);
            });
        }
        for (std::size_t s = 0; s < L.slots; ++s) fn(s, per[s].data(), per[s].size());
    }

    /// Parameters of every block of `in`: calibrated, or from `in` itself.
    template <class Arch, std::size_t N, class E>
    detail::block_params params_for(const detail::float_input<N>& in, const detail::block_layout<Granularity, N>& L,
                                    const xt::xexpression<E>& expr, const std::string& name) const {
        detail::block_params P;
        P.resize(L.slots);
        if constexpr (alpha_format) {
            check_finite_fast<Arch>(in, expr, name);
            alpha_params(in, L, P);
        } else if (calibrated()) {
            check_finite_fast<Arch>(in, expr, name);
            if (observer_.slots() != L.slots) {
                throw shape_error(std::string("quantizer::quantize: ") + detail::where(name) + " of shape " +
                                  detail::shape_str(in.shape) + " has " + std::to_string(L.slots) + " " +
                                  Granularity::name() + " blocks, but " + std::to_string(observer_.slots()) +
                                  " were calibrated");
            }
            for (std::size_t s = 0; s < L.slots; ++s) {
                P.set(s, compute_qparams<Format, Mapping, ScaleFormat>(
                             observer_.template range<Format, Mapping, ScaleFormat>(s)));
            }
        } else if constexpr (Observer::minmax_like) {
            // fused pass: per-run min/max with non-finite detection
            std::vector<float> lo(L.slots, std::numeric_limits<float>::infinity());
            std::vector<float> hi(L.slots, -std::numeric_limits<float>::infinity());
            bool finite = true;
            for (std::size_t r = 0; r < L.rows && finite; ++r) {
                L.for_each_run(r, [&](std::size_t c0, std::size_t len, std::size_t s) {
                    finite = detail::span_minmax<Arch>(in.data + r * L.cols + c0, len, lo[s], hi[s]) && finite;
                });
            }
            if (!finite) detail::check_finite(expr, name);
            for (std::size_t s = 0; s < L.slots; ++s) {
                const clip_range cr = lo[s] <= hi[s] ? clip_range{lo[s], hi[s], true} : clip_range{};
                P.set(s, compute_qparams<Format, Mapping, ScaleFormat>(cr));
            }
        } else {
            check_finite_fast<Arch>(in, expr, name);
            for_each_slot_values(in, L, [&](std::size_t s, const float* v, std::size_t n) {
                P.set(s, compute_qparams<Format, Mapping, ScaleFormat>(
                             observer_.template one_shot<Format, Mapping, ScaleFormat>(v, n)));
            });
        }
        return P;
    }

    /// α per block: binary mean|w|; ternary Δ = 0.7·mean|w|, α = mean of |w| > Δ.
    template <std::size_t N>
    static void alpha_params(const detail::float_input<N>& in, const detail::block_layout<Granularity, N>& L,
                             detail::block_params& P) {
        std::vector<double> sum(L.slots, 0.0);
        std::vector<std::size_t> cnt(L.slots, 0);
        for (std::size_t r = 0; r < L.rows; ++r) {
            L.for_each_run(r, [&](std::size_t c0, std::size_t len, std::size_t s) {
                const float* x = in.data + r * L.cols + c0;
                double a0 = 0.0, a1 = 0.0, a2 = 0.0, a3 = 0.0;
                std::size_t k = 0;
                for (; k + 4 <= len; k += 4) {
                    a0 += std::fabs(static_cast<double>(x[k]));
                    a1 += std::fabs(static_cast<double>(x[k + 1]));
                    a2 += std::fabs(static_cast<double>(x[k + 2]));
                    a3 += std::fabs(static_cast<double>(x[k + 3]));
                }
                for (; k < len; ++k) a0 += std::fabs(static_cast<double>(x[k]));
                sum[s] += (a0 + a1) + (a2 + a3);
                cnt[s] += len;
            });
        }
        if constexpr (Format::family == format_family::binary) {
            for (std::size_t s = 0; s < L.slots; ++s) {
                const float alpha = cnt[s] ? static_cast<float>(sum[s] / static_cast<double>(cnt[s])) : 0.0f;
                P.p[s].scale = detail::round_scale<ScaleFormat>(alpha);
                P.inv[s] = 0.0f;
            }
        } else {
            P.delta.assign(L.slots, 0.0f);
            for (std::size_t s = 0; s < L.slots; ++s) {
                P.delta[s] = cnt[s] ? static_cast<float>(0.7 * sum[s] / static_cast<double>(cnt[s])) : 0.0f;
            }
            std::vector<double> above(L.slots, 0.0);
            std::vector<std::size_t> n_above(L.slots, 0);
            for (std::size_t r = 0; r < L.rows; ++r) {
                L.for_each_run(r, [&](std::size_t c0, std::size_t len, std::size_t s) {
                    const float* x = in.data + r * L.cols + c0;
                    for (std::size_t k = 0; k < len; ++k) {
                        const float a = std::fabs(x[k]);
                        if (a > P.delta[s]) {
                            above[s] += static_cast<double>(a);
                            ++n_above[s];
                        }
                    }
                });
            }
            for (std::size_t s = 0; s < L.slots; ++s) {
                const float alpha = n_above[s] ? static_cast<float>(above[s] / static_cast<double>(n_above[s])) : 0.0f;
                P.p[s].scale = detail::round_scale<ScaleFormat>(alpha);
                P.inv[s] = 0.0f;
            }
        }
    }

    float fake_value(float x, const detail::block_params& P, std::size_t s, std::size_t index) const {
        if constexpr (Format::family == format_family::binary) {
            return x >= 0.0f ? P.p[s].scale : -P.p[s].scale;
        } else if constexpr (Format::family == format_family::ternary) {
            return std::fabs(x) > P.delta[s] ? (x < 0.0f ? -P.p[s].scale : P.p[s].scale) : 0.0f;
        } else {
            return detail::fake_quantize_value<Format>(x, P.p[s], P.inv[s], rounding_, index);
        }
    }

    /// Writes the packed codes of every row.
    template <class Arch, std::size_t N>
    void encode(const detail::float_input<N>& in, const detail::block_layout<Granularity, N>& L,
                const detail::block_params& P, tensor_type<N>& q) const {
        std::vector<std::int32_t> codes(L.cols);
        for (std::size_t r = 0; r < L.rows; ++r) encode_row<Arch>(in, L, P, q, r, codes);
    }

    /// Writes the packed codes of row r (codes: scratch of L.cols ints).
    template <class Arch, std::size_t N>
    void encode_row(const detail::float_input<N>& in, const detail::block_layout<Granularity, N>& L,
                    const detail::block_params& P, tensor_type<N>& q, std::size_t r,
                    std::vector<std::int32_t>& codes) const {
        {
            const float* x = in.data + r * L.cols;
            const std::size_t base = r * L.cols;
            if constexpr (Format::family == format_family::binary) {
                // sign bits do not depend on the block: build each word in a register
                std::uint64_t* w = q.row_words(r);
                for (std::size_t k0 = 0; k0 < L.cols; k0 += 64) {
                    const std::size_t n = std::min<std::size_t>(64, L.cols - k0);
                    std::uint64_t bits = 0;
                    for (std::size_t j = 0; j < n; ++j) bits |= static_cast<std::uint64_t>(x[k0 + j] >= 0.0f) << j;
                    w[k0 / 64] = bits;
                }
            } else if constexpr (Format::family == format_family::ternary) {
                std::uint64_t* nz = q.row_words(r, 0);
                std::uint64_t* ng = q.row_words(r, 1);
                L.for_each_run(r, [&](std::size_t c0, std::size_t len, std::size_t s) {
                    const float d = P.delta[s];
                    for (std::size_t k = c0; k < c0 + len; ++k) {
                        const std::uint64_t bit = std::uint64_t(1) << (k % 64);
                        const std::uint64_t on = static_cast<std::uint64_t>(std::fabs(x[k]) > d);
                        nz[k / 64] |= bit & (0 - on);
                        ng[k / 64] |= bit & (0 - (on & static_cast<std::uint64_t>(x[k] < 0.0f)));
                    }
                });
            } else {
                L.for_each_run(r, [&](std::size_t c0, std::size_t len, std::size_t s) {
                    const qparams& p = P.p[s];
                    if constexpr (Format::family == format_family::integer) {
                        if constexpr (std::is_same_v<Rounding, nearest_even>) {
                            detail::span_encode_nearest<Arch>(x + c0, len, P.inv[s], static_cast<float>(Format::qmin - p.zero_point),
                                                              static_cast<float>(Format::qmax - p.zero_point), p.zero_point,
                                                              codes.data() + c0);
                        } else {
                            for (std::size_t k = c0; k < c0 + len; ++k) {
                                codes[k] = detail::encode_integer<Format>(x[k], P.inv[s], p.zero_point, rounding_, base + k);
                            }
                        }
                    } else if constexpr (Format::family == format_family::pow2) {
                        for (std::size_t k = c0; k < c0 + len; ++k) {
                            codes[k] = static_cast<std::int32_t>(
                                detail::encode_pow2<Format::bits>(x[k], P.inv[s], rounding_, base + k));
                        }
                    } else {
                        for (std::size_t k = c0; k < c0 + len; ++k) {
                            codes[k] = static_cast<std::int32_t>(detail::encode_float<Format>(x[k], P.inv[s]));
                        }
                    }
                });
                std::uint8_t* out = q.row(r);
                if constexpr (Format::storage_bits == 8) {
                    detail::narrow_to_bytes(codes.data(), L.cols, out);
                } else if constexpr (Format::storage_bits == 4) {
                    detail::pack_nibbles(codes.data(), L.cols, out);
                } else if constexpr (Format::storage_bits == 2) {
                    detail::pack_crumbs(codes.data(), L.cols, out);
                } else {
                    for (std::size_t k = 0; k < L.cols; ++k) {
                        detail::put_code<16>(out, k, static_cast<std::uint32_t>(codes[k]));
                    }
                }
            }
        }
    }

    Observer observer_{};
    Rounding rounding_{};
    detail::block_params last_;
};

}  // namespace compress
