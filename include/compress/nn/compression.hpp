#pragma once
// Compression in the training loop with the library's own pruning and quantization types:
// masks from compress::compute_mask on a schedule, fake quantization of weights and activations
// with compress::quantizer (straight-through gradients) for quantization-aware training.
// Part of the training substrate (compress/nn.hpp includes it).

#include <cstddef>
#include <memory>
#include <string>
#include <type_traits>
#include <utility>

#include "../core/error.hpp"
#include "../prune.hpp"
#include "../quantize.hpp"
#include "config.hpp"
#include "layers.hpp"
#include "parameter.hpp"
#include "train.hpp"

namespace compress::nn {
inline namespace COMPRESS_NN_ABI {

/// A mask_updater (for scheduled_pruning) that recomputes a parameter's mask with
/// compress::compute_mask<Criterion, Grouping> at the requested sparsity. Entries pruned before
/// stay pruned and count towards the sparsity (prune_context::previous); the parameter's current
/// gradient is passed for gradient criteria (taylor). Activation criteria need activation
/// statistics: compute those masks with compute_mask and an activation_recorder instead.
/// Structured groupings on a 1-d parameter (a bias) throw value_error.
template <class Criterion, class Grouping = unstructured>
mask_updater prune_with() {
    return [](const parameter& p, double sparsity) {
        p.visit([&](auto& prm) {
            using T = typename std::decay_t<decltype(prm)>::tensor_type;
            constexpr std::size_t N = std::tuple_size<typename T::shape_type>::value;
            if constexpr (std::is_same_v<Grouping, unstructured> || N >= 2) {
                prune_context<float, N> ctx;
                ctx.with_name(p.name()).with_gradient(prm.grad);
                if (prm.keep) ctx.with_previous(*prm.keep);
                p.set_mask(compute_mask<Criterion, Grouping>(prm.value, sparsity, ctx));
            } else {
                throw value_error("prune_with: structured pruning needs a parameter of rank >= 2, '" + p.name() +
                                  "' has rank 1");
            }
        });
    };
}

/// Quantization-aware training of a weight: the layer's forward uses
/// `q->fake_quantize(w)` (which also observes w unless the quantizer is frozen) and backward
/// passes the gradient through `q->ste_gradient(w, g)` (zero where w was clamped). The
/// quantizer is shared with the caller, who can freeze, inspect or quantize with it.
template <class Quantizer>
std::shared_ptr<Quantizer> fake_quantize_weights(const parameter& p, std::shared_ptr<Quantizer> q) {
    if (!q) throw value_error("fake_quantize_weights: null quantizer for parameter '" + p.name() + "'");
    p.visit([&](auto& prm) {
        using T = typename std::decay_t<decltype(prm)>::tensor_type;
        const std::string name = p.name();
        prm.transform = [q, name](const T& w) -> T { return q->fake_quantize(w, name); };
        prm.transform_grad = [q](const T& w, const T& g) -> T { return q->ste_gradient(w, g); };
    });
    return q;
}
template <class Quantizer>
std::shared_ptr<Quantizer> fake_quantize_weights(const parameter& p, Quantizer q = {}) {
    return fake_quantize_weights(p, std::make_shared<Quantizer>(std::move(q)));
}

/// A fake_quant layer for the rank-N activations flowing through it (N = 2 after a linear,
/// 4 after a conv2d): forward returns `q->fake_quantize(x)`, observing x in training forwards
/// only (eval forwards use the ranges as they are); backward passes the gradient where x was
/// not clamped (`q->ste_gradient`). Throws shape_error when the activation's rank is not N.
template <std::size_t N, class Quantizer>
fake_quant fake_quantize_activations(std::shared_ptr<Quantizer> q) {
    static_assert(N >= 1 && N <= 4, "fake_quantize_activations<N>: the activations' rank N must be 1..4");
    if (!q) throw value_error("fake_quantize_activations: null quantizer");
    using T = xt::xtensor<float, N>;
    auto to_fixed = [](const tensor& x) {
        if (x.dimension() != N) {
            throw shape_error("fake_quantize_activations<" + std::to_string(N) + ">: activation of shape " +
                              compress::detail::shape_str(x.shape()) + " does not have rank " + std::to_string(N));
        }
        return T(x);
    };
    auto fwd = [q, to_fixed](const tensor& x, bool train) -> tensor {
        const T xf = to_fixed(x);
        if (train || q->frozen()) return tensor(q->fake_quantize(xf));
        q->freeze();  // eval: use the ranges without updating them
        tensor y;
        try {
            y = tensor(q->fake_quantize(xf));
        } catch (...) {
            q->unfreeze();
            throw;
        }
        q->unfreeze();
        return y;
    };
    auto ste = [q, to_fixed](const tensor& x, const tensor& g) -> tensor {
        return tensor(q->ste_gradient(to_fixed(x), to_fixed(g)));
    };
    return fake_quant(fwd, ste);
}
template <std::size_t N, class Quantizer>
fake_quant fake_quantize_activations(Quantizer q = {}) {
    return fake_quantize_activations<N>(std::make_shared<Quantizer>(std::move(q)));
}

}  // namespace COMPRESS_NN_ABI
}  // namespace compress::nn
