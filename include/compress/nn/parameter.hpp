#pragma once
// Parameters of the training substrate: a tensor, its gradient, an optional pruning mask and
// an optional transform (fake quantization) with its straight-through gradient; named handles
// to them (`fc1.weight`, PyTorch's names); the seeded generator and PyTorch-like initialisation.

#include <algorithm>
#include <array>
#include <tuple>
#include <type_traits>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <optional>
#include <random>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include <xtensor/xarray.hpp>
#include <xtensor/xtensor.hpp>

#include "../core/error.hpp"
#include "../core/mask.hpp"
#include "config.hpp"

namespace compress::nn {
inline namespace COMPRESS_NN_ABI {

/// The activation type that flows between layers: a row-major float array of any rank,
/// batch first ([batch, features] or [batch, channels, height, width]).
using tensor = xt::xarray<float>;
/// Class labels of a batch or a data set (PyTorch uses int64 class indices too).
using labels = xt::xtensor<std::int64_t, 1>;

// ---------------------------------------------------------------- generator and init

/// The seeded random source of the substrate (initialisation, shuffling). A 64-bit Mersenne
/// twister with conversions written here, so a seed gives the same numbers with every
/// standard library (std::uniform_*_distribution is implementation-defined).
class generator {
public:
    explicit generator(std::uint64_t seed = 0) : engine_(seed) {}

    std::uint64_t next() { return engine_(); }
    /// Uniform in [0, 1) with 24 random bits (every value exactly representable as float).
    float uniform01() { return static_cast<float>(engine_() >> 40) * (1.0f / 16777216.0f); }
    /// Uniform in [lo, hi).
    float uniform(float lo, float hi) { return lo + (hi - lo) * uniform01(); }
    /// Uniform integer in [0, n), unbiased (rejection sampling); n > 0.
    std::uint64_t below(std::uint64_t n) {
        const std::uint64_t limit = ~std::uint64_t(0) - (~std::uint64_t(0) % n);
        std::uint64_t r;
        do { r = engine_(); } while (r >= limit);
        return r % n;
    }

private:
    std::mt19937_64 engine_;
};

/// Fills `t` with U(-bound, bound), bound = gain·sqrt(3 / fan_in), gain = sqrt(2 / (1 + a²)):
/// PyTorch's kaiming_uniform_(a, mode='fan_in', nonlinearity='leaky_relu'). With a = √5
/// (nn.Linear / nn.Conv2d default) the bound is 1/√fan_in.
template <class C>
void kaiming_uniform(C& t, std::size_t fan_in, double a, generator& gen) {
    if (fan_in == 0) throw value_error("kaiming_uniform: fan_in is 0");
    const double gain = std::sqrt(2.0 / (1.0 + a * a));
    const auto bound = static_cast<float>(gain * std::sqrt(3.0 / static_cast<double>(fan_in)));
    for (auto& v : t) v = gen.uniform(-bound, bound);
}

/// Fills `t` with U(-1/√fan_in, 1/√fan_in): PyTorch's default bias initialisation.
template <class C>
void bias_uniform(C& t, std::size_t fan_in, generator& gen) {
    if (fan_in == 0) throw value_error("bias_uniform: fan_in is 0");
    const auto bound = static_cast<float>(1.0 / std::sqrt(static_cast<double>(fan_in)));
    for (auto& v : t) v = gen.uniform(-bound, bound);
}

// ---------------------------------------------------------------- param<N>

/// One parameter (or buffer) of a layer, owned by the layer.
///
/// - `value`, `grad`: same shape; backward overwrites `grad` (no accumulation).
/// - `keep`: optional pruning mask. While set, the entries it prunes stay exactly zero: the
///   optimizers zero them in the gradient before the update and in the value after it.
/// - `transform` / `transform_grad`: optional weight transform for quantization-aware
///   training. Layers compute with `transform(value)` (e.g. fake_quantize) and receive the
///   gradient with respect to that result; `transform_grad(value, grad)` maps it back to the
///   gradient with respect to `value` (empty = straight-through, the identity).
template <std::size_t N>
struct param {
    static_assert(N >= 1 && N <= 4, "nn::param<N> needs 1 <= N <= 4");
    using tensor_type = xt::xtensor<float, N>;
    using transform_fn = std::function<tensor_type(const tensor_type&)>;
    using transform_grad_fn = std::function<tensor_type(const tensor_type& value, const tensor_type& grad)>;

    tensor_type value;
    tensor_type grad;
    std::optional<compress::mask<N>> keep;
    transform_fn transform;
    transform_grad_fn transform_grad;
    /// False for buffers (running statistics) and frozen parameters: optimizers skip it.
    bool trainable = true;

    param() = default;
    explicit param(const typename tensor_type::shape_type& shape, float fill = 0.0f, bool is_trainable = true)
        : value(tensor_type::from_shape(shape)), grad(tensor_type::from_shape(shape)), trainable(is_trainable) {
        std::fill(value.begin(), value.end(), fill);
        std::fill(grad.begin(), grad.end(), 0.0f);
    }

    /// The tensor the layer computes with: `value`, or `transform(value)` when a transform is set.
    const tensor_type& effective(const std::string& name) {
        if (!transform) return value;
        effective_ = transform(value);
        if (effective_.shape() != value.shape()) {
            throw shape_error("the transform of parameter '" + name + "' returned shape " +
                              compress::detail::shape_str(effective_.shape()) + " for a value of shape " +
                              compress::detail::shape_str(value.shape()));
        }
        return effective_;
    }

    /// What the last effective() returned (the value without a transform).
    const tensor_type& last_effective() const { return transform ? effective_ : value; }

    /// Called by the layer after it wrote the gradient with respect to `effective()`.
    void finish_grad(const std::string& name) {
        if (!transform || !transform_grad) return;
        tensor_type g = transform_grad(value, grad);
        if (g.shape() != value.shape()) {
            throw shape_error("the transform gradient of parameter '" + name + "' returned shape " +
                              compress::detail::shape_str(g.shape()) + " for a value of shape " +
                              compress::detail::shape_str(value.shape()));
        }
        grad = std::move(g);
    }

    /// Zeroes the masked entries of the value (no-op without a mask).
    void apply_mask() {
        if (keep) keep->apply(value);
    }

private:
    tensor_type effective_;
};

// ---------------------------------------------------------------- parameter (named handle)

namespace detail {
template <class S>
struct static_rank : std::integral_constant<std::size_t, 0> {};  // 0 = dynamic
template <class I, std::size_t M>
struct static_rank<std::array<I, M>> : std::integral_constant<std::size_t, M> {};

/// Converts a transform's result to the parameter's tensor type; a result of another fixed
/// rank is a shape_error at run time (not a conversion instantiated for every rank).
template <class T, class R>
T to_rank(R&& r, const std::string& name, const char* what) {
    using S = typename std::decay_t<R>::shape_type;
    constexpr std::size_t M = static_rank<std::decay_t<S>>::value;
    constexpr std::size_t N = std::tuple_size<typename T::shape_type>::value;
    if constexpr (M != 0 && M != N) {
        throw shape_error("the " + std::string(what) + " of parameter '" + name + "' returned shape " +
                          compress::detail::shape_str(r.shape()) + " for a value of rank " + std::to_string(N));
    } else {
        if (r.dimension() != N) {
            throw shape_error("the " + std::string(what) + " of parameter '" + name + "' returned shape " +
                              compress::detail::shape_str(r.shape()) + " for a value of rank " + std::to_string(N));
        }
        return T(std::forward<R>(r));
    }
}
}  // namespace detail

/// A named handle to a layer's `param<N>` (like an entry of PyTorch's named_parameters()).
/// It refers to the layer's storage: copying the handle does not copy the tensor. A handle
/// stays valid while its model lives (layers are held by pointer, moving a model keeps them).
class parameter {
public:
    using pointer = std::variant<param<1>*, param<2>*, param<3>*, param<4>*>;

    parameter(std::string name, pointer p) : name_(std::move(name)), p_(p) {}

    /// Calls f(param<N>&) with the typed storage.
    template <class F>
    decltype(auto) visit(F&& f) const {
        return std::visit([&](auto* p) -> decltype(auto) { return f(*p); }, p_);
    }

    const std::string& name() const noexcept { return name_; }
    std::size_t rank() const noexcept { return p_.index() + 1; }
    std::vector<std::size_t> shape() const {
        return visit([](auto& p) { return std::vector<std::size_t>(p.value.shape().begin(), p.value.shape().end()); });
    }
    std::size_t size() const {
        return visit([](auto& p) { return p.value.size(); });
    }
    /// Row-major data of the value / of the gradient.
    float* data() const {
        return visit([](auto& p) { return p.value.data(); });
    }
    float* grad_data() const {
        return visit([](auto& p) { return p.grad.data(); });
    }
    bool trainable() const {
        return visit([](auto& p) { return p.trainable; });
    }
    void set_trainable(bool on) const {
        visit([on](auto& p) { p.trainable = on; });
    }

    /// The typed storage; throws shape_error when the rank is not N.
    template <std::size_t N>
    param<N>& get() const {
        static_assert(N >= 1 && N <= 4, "nn::parameter::get<N> needs 1 <= N <= 4");
        if (rank() != N) {
            throw shape_error("parameter '" + name_ + "' has rank " + std::to_string(rank()) + " (shape " +
                              compress::detail::shape_str(shape()) + "), asked for rank " + std::to_string(N));
        }
        return *std::get<N - 1>(p_);
    }
    template <std::size_t N>
    xt::xtensor<float, N>& value() const { return get<N>().value; }
    template <std::size_t N>
    xt::xtensor<float, N>& grad() const { return get<N>().grad; }

    /// Sets the pruning mask and zeroes the pruned entries of the value now. Throws
    /// shape_error when the rank or the shape differs from the parameter's.
    template <std::size_t N>
    void set_mask(const compress::mask<N>& m) const {
        param<N>& p = get<N>();
        std::vector<std::size_t> ms(m.shape().begin(), m.shape().end());
        if (ms != shape()) {
            throw shape_error("mask of shape " + compress::detail::shape_str(ms) + " does not fit parameter '" +
                              name_ + "' of shape " + compress::detail::shape_str(shape()));
        }
        p.keep = m;
        p.apply_mask();
    }
    void clear_mask() const {
        visit([](auto& p) { p.keep.reset(); });
    }
    bool has_mask() const {
        return visit([](auto& p) { return p.keep.has_value(); });
    }
    /// The mask's flags (row-major, 1 = kept), or nullptr without a mask.
    const std::uint8_t* mask_data() const {
        return visit([](auto& p) -> const std::uint8_t* { return p.keep ? p.keep->data() : nullptr; });
    }
    /// Fraction of exactly-zero entries of the value.
    double zero_fraction() const {
        const float* d = data();
        const std::size_t n = size();
        if (n == 0) return 0.0;
        std::size_t z = 0;
        for (std::size_t i = 0; i < n; ++i) z += (d[i] == 0.0f);
        return static_cast<double>(z) / static_cast<double>(n);
    }

    /// Sets a weight transform for QAT. `fwd(value)` and `ste(value, grad)` are called with
    /// xt::xtensor<float, N> for this parameter's N (generic lambdas work for every rank);
    /// pass `nullptr` as `ste` for the plain straight-through estimator.
    template <class F, class G = std::nullptr_t>
    void set_transform(F fwd, G ste = nullptr) const {
        visit([&](auto& p) {
            using P = std::decay_t<decltype(p)>;
            using T = typename P::tensor_type;
            const std::string name = name_;
            p.transform = [fwd, name](const T& v) -> T { return detail::to_rank<T>(fwd(v), name, "transform"); };
            if constexpr (std::is_same_v<G, std::nullptr_t>) {
                p.transform_grad = nullptr;
            } else {
                p.transform_grad = [ste, name](const T& v, const T& g) -> T {
                    return detail::to_rank<T>(ste(v, g), name, "transform gradient");
                };
            }
        });
    }
    void clear_transform() const {
        visit([](auto& p) {
            p.transform = nullptr;
            p.transform_grad = nullptr;
        });
    }
    bool has_transform() const {
        return visit([](auto& p) { return static_cast<bool>(p.transform); });
    }

private:
    std::string name_;
    pointer p_;
};

/// The named parameters (or buffers) of a model, in registration order (PyTorch's order).
class parameter_list {
public:
    using container = std::vector<parameter>;
    using iterator = container::const_iterator;

    parameter_list() = default;
    explicit parameter_list(container items) : items_(std::move(items)) {}
    parameter_list(std::initializer_list<parameter> items) : items_(items) {}

    void push_back(parameter p) { items_.push_back(std::move(p)); }
    std::size_t size() const noexcept { return items_.size(); }
    bool empty() const noexcept { return items_.empty(); }
    iterator begin() const noexcept { return items_.begin(); }
    iterator end() const noexcept { return items_.end(); }
    /// Handles are returned by value: `model.parameters()["fc1.weight"]` outlives the list.
    parameter operator[](std::size_t i) const { return items_.at(i); }

    bool contains(const std::string& name) const {
        return std::any_of(items_.begin(), items_.end(), [&](const parameter& p) { return p.name() == name; });
    }
    /// The parameter called `name`; throws value_error listing the known names otherwise.
    parameter operator[](const std::string& name) const {
        for (const auto& p : items_) {
            if (p.name() == name) return p;
        }
        std::string known;
        for (const auto& p : items_) known += (known.empty() ? "" : ", ") + p.name();
        throw value_error("no parameter named '" + name + "' (known: " + (known.empty() ? "none" : known) + ")");
    }
    parameter at(const std::string& name) const { return (*this)[name]; }

    std::vector<std::string> names() const {
        std::vector<std::string> out;
        for (const auto& p : items_) out.push_back(p.name());
        return out;
    }
    /// Total number of scalars.
    std::size_t numel() const {
        std::size_t n = 0;
        for (const auto& p : items_) n += p.size();
        return n;
    }

private:
    container items_;
};

}  // namespace COMPRESS_NN_ABI
}  // namespace compress::nn
