// Quantization rows: post-training int8 per-channel, int4 per-group-32, ternary, binary;
// W8A8 with calibrated activation ranges; quantization-aware training to int4.
#include "demo.hpp"

#include <compress/quantize.hpp>

#include <compress/linear.hpp>

#include <cmath>
#include <cstdio>

namespace demo {
namespace {

using q_int8 = compress::quantizer<compress::int8, compress::symmetric, compress::per_channel<0>>;
using q_int4 = compress::quantizer<compress::int4, compress::symmetric, compress::per_group<32>>;
using q_ternary = compress::quantizer<compress::ternary, compress::symmetric, compress::per_channel<0>>;
using q_binary = compress::quantizer<compress::binary, compress::symmetric, compress::per_channel<0>>;
/// Activation ranges: one int8 scale per layer input, entropy (KL) calibration.
using q_act = compress::quantizer<compress::int8, compress::symmetric, compress::per_tensor, compress::histogram_kl>;

/// The quantized weights of every layer (fp32 biases), and their file.
template <class Q>
struct quantized_layers {
    using qt = typename Q::template tensor_type<2>;
    std::vector<std::shared_ptr<qt>> w;
    std::vector<std::shared_ptr<vector>> b;
    compress::io::compressed_model file;
    std::size_t bytes = 0;
};

template <class Q>
quantized_layers<Q> quantize_layers(nn::sequential& m, const Q& quantizer = {}) {
    quantized_layers<Q> out;
    for (std::size_t i = 1, n = num_layers(m); i <= n; ++i) {
        const std::string p = "fc" + std::to_string(i);
        auto q = std::make_shared<typename quantized_layers<Q>::qt>(quantizer.quantize(fc(m, i).weight.value, p + ".weight"));
        auto b = std::make_shared<vector>(fc(m, i).bias.value);
        out.file.add(p + ".weight", *q);
        out.file.add(p + ".bias", *b);
        out.bytes += q->bytes() + b->size() * sizeof(float);
        out.w.push_back(std::move(q));
        out.b.push_back(std::move(b));
    }
    return out;
}

/// Mean training image: the binarization threshold of the pixels for binary / ternary layers.
vector pixel_mean(const dataset& d) {
    const std::size_t n = d.train_y.size(), k = d.train_x.shape()[1];
    std::vector<double> acc(k, 0.0);
    for (std::size_t i = 0; i < n; ++i) {
        const float* x = d.train_x.data() + i * k;
        for (std::size_t j = 0; j < k; ++j) acc[j] += x[j];
    }
    vector mu = vector::from_shape({k});
    for (std::size_t j = 0; j < k; ++j) mu(j) = static_cast<float>(acc[j] / static_cast<double>(n));
    return mu;
}

/// Deploys quantized layers: y = compress::linear(x, W_q, b) through the kernel of W_q's scheme.
///
/// `center` (binary / ternary weights): those kernels binarize their input (bit = x >= 0,
/// β = mean|x| per row), so they need signed inputs. The images are centred on the mean
/// training image first, and no ReLU runs between the layers: the next layer binarizes the
/// pre-activation, and sign(z) is exactly ReLU's on/off state of z in ±1 coding (binarizing
/// ReLU(z) >= 0 would give +1 everywhere).
template <class Q>
std::shared_ptr<deployed_model> deploy(const quantized_layers<Q>& q, const vector* center = nullptr) {
    auto d = std::make_shared<deployed_model>();
    for (std::size_t i = 0; i < q.w.size(); ++i) {
        deployed_layer l;
        l.name = "fc" + std::to_string(i + 1);
        auto w = q.w[i];
        auto b = q.b[i];
        if (center && i == 0) {
            auto mu = std::make_shared<vector>(*center);
            l.run = [w, b, mu](const matrix& x) {
                const matrix xc = x - *mu;
                return compress::linear(xc, *w, *b);
            };
            l.bytes = mu->size() * sizeof(float);
        } else {
            l.run = [w, b](const matrix& x) { return compress::linear(x, *w, *b); };
        }
        l.bytes += w->bytes() + b->size() * sizeof(float);
        l.relu = !center && i + 1 < q.w.size();
        d->layers.push_back(std::move(l));
    }
    return d;
}

/// Fills the row from the quantized layers: the deployed model, or why there is none.
template <class Q>
outcome finish(outcome o, quantized_layers<Q>&& q, const vector* center = nullptr) {
    o.model = deploy(q, center);
    if (center) {
        q.file.add("input_center", *center);
        o.reportable = false;  // `compress report` compares tensor by tensor: input_center has no dense counterpart
    }
    o.file = std::move(q.file);
    o.has_file = true;
    return o;
}

/// β·sign(x − μ) per row, β = mean|x − μ| (sign(0) = +1): what the binary / ternary kernels
/// compute from their input, as an nn activation transform (straight-through gradient).
nn::fake_quant sign_activation(std::shared_ptr<const vector> center) {
    return nn::fake_quant(
        [center](const nn::tensor& x, bool) {
            nn::tensor y = x;
            const std::size_t rows = x.shape()[0], k = x.size() / std::max<std::size_t>(rows, 1);
            for (std::size_t r = 0; r < rows; ++r) {
                float* p = y.data() + r * k;
                double beta = 0.0;
                for (std::size_t j = 0; j < k; ++j) {
                    if (center) p[j] -= (*center)(j);
                    beta += std::fabs(p[j]);
                }
                const auto b = static_cast<float>(beta / static_cast<double>(k));
                for (std::size_t j = 0; j < k; ++j) p[j] = p[j] >= 0.0f ? b : -b;
            }
            return y;
        },
        nullptr, "SignActivation");
}

outcome ptq_int8(const context& c) {
    outcome o;
    o.method = "PTQ int8 per-channel";
    o.kernel = "W8A8 int8 GEMM (dynamic per-row activation scales)";
    nn::sequential m = c.clone_dense();
    o.note = "Weights: symmetric int8, one scale per output channel (`quantizer<int8, symmetric, per_channel<0>>`), "
             "re-laid out once for the kernel (`prepack`). `compress::linear(x, packed, b)` runs W8A8: each row of "
             "activations is quantized to int8 on the fly with its own max|x|/127 scale, int32 accumulation.";
    auto q = quantize_layers<q_int8>(m);
    auto d = std::make_shared<deployed_model>();
    for (std::size_t i = 0; i < q.w.size(); ++i) {
        deployed_layer l;
        l.name = "fc" + std::to_string(i + 1);
        auto packed = std::make_shared<compress::packed_int8_weights>(compress::prepack(*q.w[i]));
        auto b = q.b[i];
        l.run = [packed, b](const matrix& x) { return compress::linear(x, *packed, *b); };
        l.bytes = q.w[i]->bytes() + b->size() * sizeof(float);
        l.relu = i + 1 < q.w.size();
        d->layers.push_back(std::move(l));
    }
    o.model = d;
    o.file = std::move(q.file);
    o.has_file = true;
    return o;
}

outcome ptq_int4(const context& c) {
    outcome o;
    o.method = "PTQ int4 per-group-32";
    o.kernel = "int4 weight-only (fp32 activations)";
    nn::sequential m = c.clone_dense();
    o.note = "Weights: symmetric int4, one fp32 scale per group of 32 inputs (`quantizer<int4, symmetric, "
             "per_group<32>>`), two codes per byte; the kernel decodes them in registers, fp32 accumulation.";
    return finish(std::move(o), quantize_layers<q_int4>(m));
}

outcome ptq_ternary(const context& c) {
    outcome o;
    o.method = "PTQ ternary per-channel (TWN)";
    o.kernel = "ternary × binarized activations (AND + popcount)";
    nn::sequential m = c.clone_dense();
    o.note = "Weights: {−α, 0, +α} per output channel (Δ = 0.7·mean|w|, TWN), 2 bits per weight. The kernel "
             "binarizes its input (sign, β = mean|x| per row): the images are centred on the mean training image "
             "and the layers pass their pre-activations (sign = ReLU's on/off state) instead of ReLU outputs. "
             "No retraining: shown for contrast (expected to lose much of the accuracy; row 'ternary_finetune' is the "
             "trained answer).";
    o.usable = false;
    const vector mu = pixel_mean(c.data);
    return finish(std::move(o), quantize_layers<q_ternary>(m), &mu);
}

outcome ptq_binary(const context& c) {
    outcome o;
    o.method = "PTQ binary per-channel (XNOR-Net α)";
    o.kernel = "binary × binarized activations (XNOR + popcount)";
    nn::sequential m = c.clone_dense();
    o.note = "Weights: α·sign(w) per output channel (α = mean|w|), 1 bit per weight; activations binarized as in "
             "the ternary row. No retraining: shown for contrast (expected to lose much of the accuracy; row "
             "'xnor_finetune' is the trained answer).";
    o.usable = false;
    const vector mu = pixel_mean(c.data);
    return finish(std::move(o), quantize_layers<q_binary>(m), &mu);
}

/// Fine-tunes the network the binary / ternary kernel computes: sign activations (β·sign of the
/// centred images, then of the pre-activations, straight-through gradient) and weights that
/// compute with Q's fake_quantize (α from the weights at every step, straight-through gradient
/// `ste_gradient`), initialised from the dense model. Returns the trained model, transforms removed.
template <class Q>
nn::sequential lowbit_finetune(const context& c, const std::shared_ptr<const vector>& mu, const char* what,
                               const char* label, std::uint64_t seed, outcome& o) {
    nn::sequential dense = c.clone_dense();
    nn::sequential m;
    {
        nn::generator gen(c.opt.seed);
        const auto widths = widths_of(dense);
        for (std::size_t i = 1; i < widths.size(); ++i) {
            const std::string k = std::to_string(i);
            m.add("sign" + k, sign_activation(i == 1 ? mu : nullptr));
            nn::linear& l = m.add("fc" + k, nn::linear(widths[i - 1], widths[i], gen));
            l.weight.value = fc(dense, i).weight.value;
            l.bias.value = fc(dense, i).bias.value;
        }
    }
    for (const auto& p : m.parameters()) {
        if (p.rank() != 2) continue;
        auto q = std::make_shared<Q>();
        p.set_transform([q](const auto& w) { return q->fake_quantize(w); },
                        [q](const auto& w, const auto& g) { return q->ste_gradient(w, g); });
    }
    std::printf("  before fine-tuning (= %s): test acc %.2f%%\n", what, 100.0 * nn_accuracy(m, c.data));
    train_plan plan;
    plan.label = label;
    plan.epochs = c.opt.ft_epochs;
    plan.lr = 1e-3;
    plan.seed = seed;
    o.train_seconds = train(m, c.data, c.opt, plan);
    for (const auto& p : m.parameters()) p.clear_transform();
    return m;
}

outcome xnor_finetune(const context& c) {
    outcome o;
    o.method = "binary weights + activations, fine-tuned (XNOR-Net)";
    o.kernel = "binary × binarized activations (XNOR + popcount)";
    o.improves_on = "ptq_binary";
    const auto mu = std::make_shared<const vector>(pixel_mean(c.data));
    nn::sequential m = lowbit_finetune<q_binary>(c, mu, "PTQ binary", "XNOR fine-tune", c.opt.seed + 350, o);
    o.note = "The network the XNOR kernel computes, trained: sign activations (β·sign, straight-through) and binary "
             "weights (`fake_quantize` + `ste_gradient` of the binary quantizer), initialised from the dense model, " +
             std::to_string(c.opt.ft_epochs) + " epochs; then the same 1-bit weights and kernel as PTQ binary.";
    return finish(std::move(o), quantize_layers<q_binary>(m), mu.get());
}

outcome ternary_finetune(const context& c) {
    outcome o;
    o.method = "ternary weights + binarized activations, fine-tuned (TWN)";
    o.kernel = "ternary × binarized activations (AND + popcount)";
    o.improves_on = "ptq_ternary";
    const auto mu = std::make_shared<const vector>(pixel_mean(c.data));
    nn::sequential m = lowbit_finetune<q_ternary>(c, mu, "PTQ ternary", "ternary fine-tune", c.opt.seed + 360, o);
    o.note = "As the XNOR row with the ternary quantizer: weights compute with its `fake_quantize` ({−α, 0, +α}, "
             "Δ = 0.7·mean|w| recomputed every step) and get its straight-through gradient, sign activations, " +
             std::to_string(c.opt.ft_epochs) + " epochs; then the same 2-bit weights and kernel as PTQ ternary.";
    return finish(std::move(o), quantize_layers<q_ternary>(m), mu.get());
}

outcome w8a8_static(const context& c) {
    outcome o;
    o.method = "W8A8 with calibrated activation ranges";
    o.kernel = "W8A8 int8 GEMM (static activation scales)";
    nn::sequential m = c.clone_dense();
    auto q = quantize_layers<q_int8>(m);
    // Calibration: the inputs of fc1, fc2, fc3 (the images, relu1, relu2) on training images,
    // one histogram-KL observer (TensorRT's entropy calibration) per layer input.
    const std::size_t n_cal = std::min<std::size_t>(c.opt.quick ? 512 : 2048, c.data.train_y.size());
    std::vector<q_act> observers(num_layers(m));
    {
        nn::activation_recorder rec(m, {"relu1", "relu2"});
        nn::data_loader loader(c.data.train_x, c.data.train_y, 256, true, c.opt.seed + 200);
        nn::tensor x;
        nn::labels y;
        std::size_t seen = 0;
        for (std::size_t b = 0; b < loader.num_batches() && seen < n_cal; ++b) {
            loader.batch(b, x, y);
            rec.clear();
            m.forward(x, false);
            observers[0].observe(matrix(x), "fc1 input");
            observers[1].observe(matrix(rec.get("relu1")), "fc2 input");
            observers[2].observe(matrix(rec.get("relu2")), "fc3 input");
            seen += y.size();
        }
    }
    std::vector<float> scales;
    std::string scale_text;
    for (std::size_t i = 0; i < observers.size(); ++i) {
        observers[i].freeze();
        scales.push_back(observers[i].calibrated_params().at(0).scale);
        char b[64];
        std::snprintf(b, sizeof b, "%sfc%zu %.5f", i ? ", " : "", i + 1, scales.back());
        scale_text += b;
        xt::xtensor<float, 1> s = {scales.back()};
        q.file.add("fc" + std::to_string(i + 1) + ".input_scale", s);
    }
    std::printf("  calibrated on %zu training images; activation scales: %s\n", n_cal, scale_text.c_str());
    o.note = "Weights as in PTQ int8. Each layer's input gets one int8 scale calibrated on " + std::to_string(n_cal) +
             " training images with a `histogram_kl` observer (entropy calibration): " + scale_text +
             ". Inference: `quantize_activations(x, scale)` then `linear(quantized_activations, prepack(W_q), b)`.";
    auto d = std::make_shared<deployed_model>();
    for (std::size_t i = 0; i < q.w.size(); ++i) {
        deployed_layer l;
        l.name = "fc" + std::to_string(i + 1);
        auto packed = std::make_shared<compress::packed_int8_weights>(compress::prepack(*q.w[i]));
        auto b = q.b[i];
        const float s = scales[i];
        l.run = [packed, b, s](const matrix& x) { return compress::linear(compress::quantize_activations(x, s), *packed, *b); };
        l.bytes = q.w[i]->bytes() + b->size() * sizeof(float) + sizeof(float);
        l.relu = i + 1 < q.w.size();
        d->layers.push_back(std::move(l));
    }
    o.model = d;
    o.file = std::move(q.file);
    o.has_file = true;
    o.reportable = false;  // the fcN.input_scale tensors have no dense counterpart for `compress report`
    return o;
}

outcome qat_int4(const context& c) {
    outcome o;
    o.method = "QAT int4 per-group-32";
    o.kernel = "int4 weight-only (fp32 activations)";
    nn::sequential m = c.clone_dense();
    // Each weight computes with fake_quantize(w) (its own range at every step) and receives the
    // straight-through gradient (zero where w was clamped).
    for (const auto& p : m.parameters()) {
        if (p.rank() != 2) continue;
        auto q = std::make_shared<q_int4>();
        p.set_transform(
            [q](const auto& w) {
                q->reset();
                return q->fake_quantize(w);
            },
            [q](const auto& w, const auto& g) { return q->ste_gradient(w, g); });
    }
    std::printf("  fake-quantized int4 model before fine-tuning: test acc %.2f%%\n", 100.0 * nn_accuracy(m, c.data));
    train_plan plan;
    plan.label = "QAT fine-tune";
    plan.epochs = c.opt.ft_epochs;
    plan.lr = 2e-4;
    plan.seed = c.opt.seed + 300;
    o.train_seconds = train(m, c.data, c.opt, plan);
    std::printf("  after fine-tuning: fake-quantized test acc %.2f%%\n", 100.0 * nn_accuracy(m, c.data));
    for (const auto& p : m.parameters()) p.clear_transform();
    o.note = "The int4 per-group-32 quantizer's `fake_quantize` as the weight transform of every layer "
             "(straight-through gradient `ste_gradient`, zero where clamped), " + std::to_string(plan.epochs) +
             " epochs; then real int4 weights run by the same kernel as PTQ int4.";
    return finish(std::move(o), quantize_layers<q_int4>(m));
}

}  // namespace

std::vector<std::pair<std::string, technique>> quantization_techniques() {
    return {{"ptq_int8", ptq_int8},       {"ptq_int4", ptq_int4}, {"ptq_ternary", ptq_ternary},
            {"ptq_binary", ptq_binary},   {"xnor_finetune", xnor_finetune},
            {"ternary_finetune", ternary_finetune}, {"w8a8_static", w8a8_static}, {"qat_int4", qat_int4}};
}

}  // namespace demo
