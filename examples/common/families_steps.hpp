#pragma once
// Reusable steps of the `families` examples (distillation, Deep Compression), written so that
// the end-to-end Fashion-MNIST demo can call them as functions:
//
//   compress_examples::make_mlp({784, 300, 100, 10}, seed)           LeNet-300-100 (fc1, relu1, ...)
//   compress_examples::train(model, data, indices, options, loss)     SGD + cosine lr over a sample subset
//   compress_examples::distill_loss(teacher_logits, kd)               soft + hard targets, labels < 0 = unlabeled
//   compress_examples::prune_and_retrain(model, data, sparsities, ...) iterative magnitude pruning + retraining
//   compress_examples::share_weights / finetune_codebooks             k-means weight sharing + codebook fine-tuning
//   compress_examples::deep_encode / deep_decode                      relative-index storage + Huffman, and back
//
// Everything is deterministic for a given seed. Only linear layers are compressed.

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include <compress/cluster.hpp>
#include <compress/distill.hpp>
#include <compress/nn.hpp>
#include <compress/prune.hpp>

namespace compress_examples {
namespace nn = compress::nn;

/// A data set: inputs [n, features] (held by the caller, not copied) and labels [n].
struct dataset {
    const nn::tensor& x;
    nn::labels y;
    std::size_t size() const { return y.size(); }
};

/// An MLP widths[0]-widths[1]-...-widths.back() with ReLU between layers, layers named
/// fc1, relu1, fc2, ... (PyTorch names: fc1.weight, fc1.bias, ...).
inline nn::sequential make_mlp(const std::vector<std::size_t>& widths, std::uint64_t seed) {
    nn::generator gen(seed);
    nn::sequential m;
    for (std::size_t i = 0; i + 1 < widths.size(); ++i) {
        m.add("fc" + std::to_string(i + 1), nn::linear(widths[i], widths[i + 1], gen));
        if (i + 2 < widths.size()) m.add("relu" + std::to_string(i + 1), nn::relu());
    }
    return m;
}

/// The linear layers of a sequential model, in order.
inline std::vector<nn::linear*> linear_layers(nn::sequential& m) {
    std::vector<nn::linear*> out;
    for (std::size_t i = 0; i < m.size(); ++i) {
        if (auto* l = dynamic_cast<nn::linear*>(&m[i])) out.push_back(l);
    }
    return out;
}

/// Test accuracy (fraction) of a model.
inline double accuracy(nn::module& model, const dataset& d) { return nn::evaluate(model, d.x, d.y).accuracy; }

/// Logits of a model (eval mode) for a whole data set, computed in batches.
inline xt::xtensor<float, 2> predict_logits(nn::module& model, const nn::tensor& x, std::size_t batch = 1000) {
    const std::size_t n = x.shape()[0], row = n ? x.size() / n : 0;
    xt::xtensor<float, 2> out;
    for (std::size_t lo = 0; lo < n; lo += batch) {
        const std::size_t hi = std::min(n, lo + batch);
        nn::tensor xb = nn::tensor::from_shape({hi - lo, row});
        std::copy(x.data() + lo * row, x.data() + hi * row, xb.data());
        nn::tensor z = model.forward(std::move(xb), false);
        if (lo == 0) out = xt::xtensor<float, 2>::from_shape({n, z.shape()[1]});
        std::copy(z.begin(), z.end(), out.data() + lo * z.shape()[1]);
    }
    return out;
}

/// SGD with momentum, cosine learning rate over all steps, optional weight decay.
struct train_options {
    std::size_t epochs = 10;
    std::size_t batch = 128;
    double lr = 0.05;
    double momentum = 0.9;
    double weight_decay = 0.0;
    std::uint64_t seed = 0;
};

/// The loss of a batch: (sample indices of the batch, student logits) -> loss and gradient.
using batch_loss = std::function<nn::loss_result(const std::vector<std::size_t>& rows, const nn::tensor& logits)>;

/// Cross-entropy against the data set's labels.
inline batch_loss supervised_loss(const dataset& d) {
    return [&d](const std::vector<std::size_t>& rows, const nn::tensor& logits) {
        nn::labels y = nn::labels::from_shape({rows.size()});
        for (std::size_t i = 0; i < rows.size(); ++i) y(i) = d.y(rows[i]);
        return nn::softmax_cross_entropy(logits, y);
    };
}

/// Trains `model` on the samples `indices` of `d` (all samples when empty) with `loss`.
/// `before_step` runs before every forward (e.g. to write shared weights into the model),
/// `after_backward` after every backward, before the optimizer step (e.g. a codebook update).
/// The optimizer updates the trainable parameters; weights set non-trainable are left alone.
inline void train(nn::sequential& model, const dataset& d, std::vector<std::size_t> indices, const train_options& o,
                  const batch_loss& loss, const std::function<void()>& before_step = {},
                  const std::function<void(double lr)>& after_backward = {}) {
    if (indices.empty()) {
        indices.resize(d.size());
        for (std::size_t i = 0; i < indices.size(); ++i) indices[i] = i;
    }
    const std::size_t row = d.size() ? d.x.size() / d.size() : 0;
    const std::size_t steps_per_epoch = (indices.size() + o.batch - 1) / o.batch;
    const std::size_t total = o.epochs * steps_per_epoch;
    nn::sgd opt(model.parameters(), {o.lr, o.momentum, 0.0, o.weight_decay});
    const nn::cosine_lr schedule(std::max<std::size_t>(total, 1));
    std::size_t step = 0;
    for (std::size_t e = 0; e < o.epochs; ++e) {
        nn::generator gen(o.seed * 1000003u + e);
        for (std::size_t i = indices.size(); i > 1; --i) std::swap(indices[i - 1], indices[gen.below(i)]);
        for (std::size_t lo = 0; lo < indices.size(); lo += o.batch, ++step) {
            const std::size_t hi = std::min(indices.size(), lo + o.batch);
            std::vector<std::size_t> rows(indices.begin() + static_cast<std::ptrdiff_t>(lo),
                                          indices.begin() + static_cast<std::ptrdiff_t>(hi));
            nn::tensor xb = nn::tensor::from_shape({rows.size(), row});
            for (std::size_t i = 0; i < rows.size(); ++i) {
                std::copy(d.x.data() + rows[i] * row, d.x.data() + (rows[i] + 1) * row, xb.data() + i * row);
            }
            const double lr = schedule.lr_at(step, o.lr);
            opt.set_lr(lr);
            if (before_step) before_step();
            nn::tensor z = model.forward(std::move(xb), true);
            const nn::loss_result r = loss(rows, z);
            model.backward(nn::tensor(r.grad), false);
            if (after_backward) after_backward(lr);
            opt.step();
        }
    }
}

// ------------------------------------------------------------------ distillation

/// Distillation loss against precomputed teacher logits [n, classes] of the whole data set.
/// Samples whose label is < 0 are unlabeled: they get only the soft-target term
/// (T^2 KL, i.e. alpha = 0); labeled samples get compress::kd_loss with `kd`. The loss and
/// gradient are means over the batch.
inline batch_loss distill_loss(const dataset& d, const xt::xtensor<float, 2>& teacher_logits, compress::kd_options kd) {
    return [&d, &teacher_logits, kd](const std::vector<std::size_t>& rows, const nn::tensor& logits) {
        const std::size_t c = teacher_logits.shape()[1];
        std::vector<std::size_t> lab, unl;
        for (std::size_t i = 0; i < rows.size(); ++i) (d.y(rows[i]) >= 0 ? lab : unl).push_back(i);
        nn::loss_result out;
        out.grad = xt::zeros<float>({rows.size(), c});
        auto part = [&](const std::vector<std::size_t>& sel, double alpha) {
            if (sel.empty()) return;
            xt::xtensor<float, 2> s = xt::xtensor<float, 2>::from_shape({sel.size(), c});
            xt::xtensor<float, 2> t = xt::xtensor<float, 2>::from_shape({sel.size(), c});
            xt::xtensor<std::int64_t, 1> y = xt::xtensor<std::int64_t, 1>::from_shape({sel.size()});
            for (std::size_t k = 0; k < sel.size(); ++k) {
                const std::size_t r = sel[k];
                for (std::size_t j = 0; j < c; ++j) {
                    s(k, j) = logits(r, j);
                    t(k, j) = teacher_logits(rows[r], j);
                }
                y(k) = std::max<std::int64_t>(d.y(rows[r]), 0);  // ignored when alpha = 0
            }
            const auto res = compress::kd_loss(s, t, y, {kd.temperature, alpha});
            const double w = static_cast<double>(sel.size()) / static_cast<double>(rows.size());
            out.loss += w * res.loss;
            for (std::size_t k = 0; k < sel.size(); ++k) {
                for (std::size_t j = 0; j < c; ++j) out.grad(sel[k], j) = static_cast<float>(w * res.grad(k, j));
            }
        };
        part(lab, kd.alpha);
        part(unl, 0.0);
        return out;
    };
}

// ------------------------------------------------------------------ Deep Compression

/// Iterative magnitude pruning with retraining (Han et al. 2015): for each stage s = 1..stages,
/// every linear layer i is pruned to sparsity sparsities[i] * s / stages (by |w|, the pruned
/// weights stay masked at zero through the optimizer), then retrained for `epochs_per_stage`.
inline void prune_and_retrain(nn::sequential& model, const dataset& d, const std::vector<double>& sparsities,
                              std::size_t stages, const train_options& retrain) {
    auto layers = linear_layers(model);
    for (std::size_t s = 1; s <= stages; ++s) {
        for (std::size_t i = 0; i < layers.size() && i < sparsities.size(); ++i) {
            const double target = sparsities[i] * static_cast<double>(s) / static_cast<double>(stages);
            auto& w = layers[i]->weight;
            auto m = compress::compute_mask<compress::magnitude>(w.value, target);
            w.keep = m;
            w.apply_mask();
        }
        train_options o = retrain;
        o.seed = retrain.seed + 100 * s;
        train(model, d, {}, o, supervised_loss(d));
    }
}

/// The shared weights of every linear layer: k-means (linear initialisation, as Deep
/// Compression) over the weights kept by the layer's mask, k = 2^bits[i] clusters.
inline std::vector<compress::shared_weights<2>> share_weights(nn::sequential& model, const std::vector<unsigned>& bits) {
    std::vector<compress::shared_weights<2>> out;
    auto layers = linear_layers(model);
    for (std::size_t i = 0; i < layers.size(); ++i) {
        auto& w = layers[i]->weight;
        const compress::mask<2> keep = w.keep ? *w.keep : compress::mask<2>(w.value.shape(), true);
        out.push_back(compress::cluster<compress::linear_init>(w.value, std::size_t{1} << bits.at(i), keep));
    }
    return out;
}

/// Writes the decoded shared weights into the model's linear layers.
inline void load_shared(nn::sequential& model, const std::vector<compress::shared_weights<2>>& shared) {
    auto layers = linear_layers(model);
    for (std::size_t i = 0; i < layers.size(); ++i) layers[i]->weight.value = shared[i].to_dense();
}

/// Codebook fine-tuning: the weights are frozen to their shared values; each step decodes
/// them, backpropagates, and moves every centroid by -lr * codebook_lr_scale * (sum of the
/// gradients of its weights). Biases train normally.
inline void finetune_codebooks(nn::sequential& model, const dataset& d, std::vector<compress::shared_weights<2>>& shared,
                               const train_options& o, double codebook_lr_scale) {
    auto layers = linear_layers(model);
    for (auto* l : layers) l->weight.trainable = false;
    train(
        model, d, {}, o, supervised_loss(d), [&] { load_shared(model, shared); },
        [&](double lr) {
            for (std::size_t i = 0; i < layers.size(); ++i) {
                compress::finetune_codebook(shared[i], layers[i]->weight.grad,
                                            static_cast<float>(lr * codebook_lr_scale));
            }
        });
    load_shared(model, shared);
    for (auto* l : layers) l->weight.trainable = true;
}

/// One linear layer in Deep Compression's storage: relative-index gaps and cluster codes,
/// each Huffman-coded, the fp32 codebook and the fp32 bias.
struct encoded_layer {
    std::array<std::size_t, 2> shape{};
    unsigned gap_bits = 0;
    std::vector<float> codebook;
    compress::huffman_encoded gaps;
    compress::huffman_encoded codes;
    std::vector<float> bias;
    std::size_t kept = 0;

    std::size_t bytes() const {
        // + shape (2 x uint32) and gap width (1 byte)
        return gaps.bytes() + codes.bytes() + codebook.size() * sizeof(float) + bias.size() * sizeof(float) + 9;
    }
};

/// Encodes every linear layer: relative indices with the gap width (among 2..10 bits) that
/// gives the smallest Huffman-coded size, then Huffman coding of gaps and codes.
inline std::vector<encoded_layer> deep_encode(nn::sequential& model, const std::vector<compress::shared_weights<2>>& shared) {
    std::vector<encoded_layer> out;
    auto layers = linear_layers(model);
    for (std::size_t i = 0; i < layers.size(); ++i) {
        encoded_layer best;
        std::size_t best_bytes = static_cast<std::size_t>(-1);
        for (unsigned gb = 2; gb <= 10; ++gb) {
            const auto rel = compress::relative_encode(shared[i], gb);
            encoded_layer e;
            e.shape = rel.shape;
            e.gap_bits = gb;
            e.codebook = rel.codebook;
            e.gaps = compress::huffman_encode(rel.gaps, std::size_t{1} << gb);
            e.codes = compress::huffman_encode(rel.codes, rel.codebook.size());
            e.bias.assign(layers[i]->bias.value.begin(), layers[i]->bias.value.end());
            e.kept = rel.codes.size();
            if (e.bytes() < best_bytes) {
                best_bytes = e.bytes();
                best = std::move(e);
            }
        }
        out.push_back(std::move(best));
    }
    return out;
}

/// Decodes the stored layers (Huffman -> relative indices -> dense weights) into the model.
inline void deep_decode(const std::vector<encoded_layer>& enc, nn::sequential& model) {
    auto layers = linear_layers(model);
    for (std::size_t i = 0; i < layers.size(); ++i) {
        compress::relative_indexed<2> rel;
        rel.shape = enc[i].shape;
        rel.gap_bits = enc[i].gap_bits;
        rel.codebook = enc[i].codebook;
        rel.gaps = compress::huffman_decode(enc[i].gaps);
        rel.codes = compress::huffman_decode(enc[i].codes);
        layers[i]->weight.value = rel.to_dense();
        std::copy(enc[i].bias.begin(), enc[i].bias.end(), layers[i]->bias.value.begin());
    }
}

/// Bytes of the dense fp32 model (weights and biases of the linear layers).
inline std::size_t dense_bytes(nn::sequential& model) {
    std::size_t n = 0;
    for (auto* l : linear_layers(model)) n += l->weight.value.size() + l->bias.value.size();
    return n * sizeof(float);
}

}  // namespace compress_examples
