// Pruning rows: global magnitude 90% + fine-tune, gradual 0 -> 90% (polynomial decay),
// 50% of the neurons + remove_neurons, and the Deep Compression pipeline.
#include "demo.hpp"

#include <compress/prune.hpp>

#include <compress/cluster.hpp>

#include <cmath>
#include <optional>
#include <cstdio>

namespace demo {
namespace {

using mask2 = compress::mask<2>;

/// Deploys every layer as CSR (compress::csr<float> from the weights kept by its mask) run by
/// compress::linear(x, csr, bias); null (and `missing` set) when sparse.hpp / linear.hpp are absent.
std::shared_ptr<deployed_model> deploy_csr(nn::sequential& m, [[maybe_unused]] std::string& missing) {
    auto d = std::make_shared<deployed_model>();
    const std::size_t n = num_layers(m);
    for (std::size_t i = 1; i <= n; ++i) {
        nn::linear& l = fc(m, i);
        auto w = std::make_shared<compress::csr<float>>(
            l.weight.keep ? compress::csr<float>::from_dense(l.weight.value, *l.weight.keep)
                          : compress::csr<float>::from_dense(l.weight.value));
        auto b = std::make_shared<vector>(l.bias.value);
        deployed_layer dl;
        dl.name = "fc" + std::to_string(i);
        dl.run = [w, b](const matrix& x) { return compress::linear(x, *w, *b); };
        dl.bytes = w->bytes() + b->size() * sizeof(float);
        dl.relu = i < n;
        d->layers.push_back(std::move(dl));
    }
    return d;
}

/// The pruned weights as CSR (the representation the deployed model runs: fp32 values,
/// narrow column indices, row pointers), so the file is as small as the model in memory; a
/// masked tensor would store every value plus the mask, more than the dense file. Biases dense.
compress::io::compressed_model sparse_file(nn::sequential& m) {
    compress::io::compressed_model f;
    for (std::size_t i = 1, n = num_layers(m); i <= n; ++i) {
        nn::linear& l = fc(m, i);
        const std::string p = "fc" + std::to_string(i);
        if (l.weight.keep) {
            f.add(p + ".weight", compress::csr<float>::from_dense(l.weight.value, *l.weight.keep));
        } else {
            f.add(p + ".weight", l.weight.value);
        }
        f.add(p + ".bias", l.bias.value);
    }
    return f;
}

std::string sparsity_line(nn::sequential& m) {
    std::string s;
    std::size_t zero = 0, total = 0;
    for (std::size_t i = 1, n = num_layers(m); i <= n; ++i) {
        const auto& w = fc(m, i).weight.value;
        std::size_t z = 0;
        for (float v : w) z += v == 0.0f;
        zero += z;
        total += w.size();
        char b[48];
        std::snprintf(b, sizeof b, "%sfc%zu %.1f%%", s.empty() ? "" : ", ", i, 100.0 * z / w.size());
        s += b;
    }
    char b[48];
    std::snprintf(b, sizeof b, " (all weights %.1f%%)", 100.0 * zero / total);
    return "sparsity " + s + b;
}

/// Global magnitude pruning of every linear weight at `amount` (one threshold for all).
void prune_global_weights(nn::sequential& m, double amount) {
    std::vector<xt::xtensor<float, 2>*> ws;
    for (std::size_t i = 1, n = num_layers(m); i <= n; ++i) ws.push_back(&fc(m, i).weight.value);
    const std::vector<mask2> masks = compress::prune_global<compress::magnitude>(ws, amount);
    const auto params = m.parameters();
    for (std::size_t i = 0; i < masks.size(); ++i) params["fc" + std::to_string(i + 1) + ".weight"].set_mask(masks[i]);
}

train_plan finetune_plan(const context& c, const std::string& label, std::size_t epochs) {
    train_plan p;
    p.label = label;
    p.epochs = epochs;
    p.lr = 5e-4;
    p.seed = c.opt.seed + 100;
    return p;
}

// ------------------------------------------------------------ global magnitude 90% + fine-tune

outcome global90(const context& c) {
    outcome o;
    o.method = "global magnitude 90% + fine-tune";
    o.kernel = "csr spmm";
    nn::sequential m = c.clone_dense();
    prune_global_weights(m, 0.9);
    std::printf("  pruned: %s, test acc before fine-tuning %.2f%%\n", sparsity_line(m).c_str(),
                100.0 * nn_accuracy(m, c.data));
    o.train_seconds = train(m, c.data, c.opt, finetune_plan(c, "fine-tune", c.opt.ft_epochs));
    std::printf("  %s\n", sparsity_line(m).c_str());
    o.model = deploy_csr(m, o.missing);
    o.file = sparse_file(m);
    o.has_file = true;
    o.note = "One magnitude threshold over the three weight matrices (`prune_global<magnitude>`, 90%); " +
             sparsity_line(m) + ". Stored and run as `csr<float>` (fp32 values, narrow column indices).";
    return o;
}

// ------------------------------------------------------------ gradual 0 -> 90%, polynomial decay

outcome gradual90(const context& c) {
    outcome o;
    o.method = "gradual 0→90% (polynomial decay) + fine-tune";
    o.kernel = "csr spmm";
    nn::sequential m = c.clone_dense();
    const std::size_t epochs = c.opt.ft_epochs + 1;
    const std::size_t nb = (c.data.train_y.size() + c.opt.batch - 1) / c.opt.batch;
    const auto total = static_cast<std::int64_t>(epochs * nb);
    const std::int64_t end = std::max<std::int64_t>(2, total * 2 / 3);
    const std::int64_t every = std::max<std::int64_t>(1, end / 20);
    compress::polynomial_decay schedule(0.0, 0.9, 0, end, 3.0, every);
    // On each scheduled step: one global magnitude ranking over the three weight matrices at
    // the scheduled sparsity; weights pruned earlier stay pruned (their previous masks).
    const std::size_t n = num_layers(m);
    const auto params = m.parameters();
    std::size_t updates = 0;
    double last = 0.0;
    train_plan plan = finetune_plan(c, "gradual pruning", epochs);
    plan.after_step = [&](std::size_t step) {
        const std::optional<double> s = schedule.sparsity_at(static_cast<std::int64_t>(step));
        if (!s) return;
        std::vector<const xt::xtensor<float, 2>*> ws;
        std::vector<compress::prune_context<float, 2>> ctx(n);
        for (std::size_t i = 1; i <= n; ++i) {
            nn::linear& l = fc(m, i);
            ws.push_back(&l.weight.value);
            if (l.weight.keep) ctx[i - 1].with_previous(*l.weight.keep);
        }
        const std::vector<mask2> masks = compress::compute_mask_global<compress::magnitude>(ws, *s, ctx);
        for (std::size_t i = 0; i < n; ++i) params["fc" + std::to_string(i + 1) + ".weight"].set_mask(masks[i]);
        ++updates;
        last = *s;
    };
    o.train_seconds = train(m, c.data, c.opt, plan);
    std::printf("  %zu mask updates, last at sparsity %.3f; %s\n", updates, last, sparsity_line(m).c_str());
    o.model = deploy_csr(m, o.missing);
    o.file = sparse_file(m);
    o.has_file = true;
    char b[200];
    std::snprintf(b, sizeof b,
                  "Zhu & Gupta schedule s(t) = 0.9·(1 − (1 − t/%lld)³) (`polynomial_decay`), a global magnitude "
                  "mask update every %lld steps while fine-tuning %zu epochs; ",
                  static_cast<long long>(end), static_cast<long long>(every), epochs);
    o.note = b + sparsity_line(m) + ".";
    return o;
}

// ------------------------------------------------------------ 50% rows + remove_neurons

outcome rows50(const context& c) {
    outcome o;
    o.method = "50% neurons (rows, L2) + remove_neurons + fine-tune";
    o.kernel = "fp32 sgemm (smaller dense)";
    nn::sequential m = c.clone_dense();
    // fc1 -> fc2: drop half of fc1's neurons (rows of fc1.weight by L2 norm), and their inputs in fc2.
    compress::layer_pair<float, 2, 2> p1;
    p1.weight = fc(m, 1).weight.value;
    p1.bias = fc(m, 1).bias.value;
    p1.next_weight = fc(m, 2).weight.value;
    p1.next_bias = fc(m, 2).bias.value;
    const auto r1 = compress::compute_mask<compress::magnitude, compress::rows<compress::l2>>(p1.weight, 0.5);
    const auto s1 = compress::remove_neurons(p1, r1);
    // fc2 -> fc3: the same on the (already narrower) fc2.
    compress::layer_pair<float, 2, 2> p2;
    p2.weight = s1.next_weight;
    p2.bias = s1.next_bias;
    p2.next_weight = fc(m, 3).weight.value;
    p2.next_bias = fc(m, 3).bias.value;
    const auto r2 = compress::compute_mask<compress::magnitude, compress::rows<compress::l2>>(p2.weight, 0.5);
    const auto s2 = compress::remove_neurons(p2, r2);
    const std::size_t h1 = s1.weight.shape()[0], h2 = s2.weight.shape()[0];
    nn::sequential small = make_mlp({784, h1, h2, 10}, c.opt.seed);
    fc(small, 1).weight.value = s1.weight;
    fc(small, 1).bias.value = s1.bias;
    fc(small, 2).weight.value = s2.weight;
    fc(small, 2).bias.value = s2.bias;
    fc(small, 3).weight.value = s2.next_weight;
    fc(small, 3).bias.value = s2.next_bias;
    std::printf("  784-300-100-10 -> 784-%zu-%zu-10, test acc before fine-tuning %.2f%%\n", h1, h2,
                100.0 * nn_accuracy(small, c.data));
    o.train_seconds = train(small, c.data, c.opt, finetune_plan(c, "fine-tune", c.opt.ft_epochs));
    o.model = std::make_shared<deployed_model>(deploy_dense(small));
    o.file = dense_file(small);
    o.has_file = true;
    o.reportable = false;  // the layers are smaller than the dense ones: `compress report` has no shapes to compare
    o.note = "Half of the neurons of fc1 and of fc2 (lowest L2 row norm, `compute_mask<magnitude, rows<l2>>`) "
             "removed for real by `remove_neurons` (the next layer loses the matching inputs; the removed "
             "neurons' ReLU(bias) is folded into the next bias): 784-" +
             std::to_string(h1) + "-" + std::to_string(h2) + "-10, an ordinary smaller dense model.";
    return o;
}

// ------------------------------------------------------------ Deep Compression

outcome deep_compression(const context& c) {
    outcome o;
    o.method = "Deep Compression: prune 90% + 4-bit k-means sharing + Huffman";
    o.kernel = "csr spmm (codebook values decoded)";
    nn::sequential m = c.clone_dense();
    const double t0 = now_seconds();
    // 1. prune + retrain
    prune_global_weights(m, 0.9);
    train(m, c.data, c.opt, finetune_plan(c, "prune + retrain", c.opt.ft_epochs));
    // 2. k-means weight sharing of the survivors, 16 shared values (4-bit indices) per layer
    const std::size_t k = 16;
    const std::size_t n = num_layers(m);
    std::vector<compress::shared_weights<2>> shared;
    for (std::size_t i = 1; i <= n; ++i) {
        nn::linear& l = fc(m, i);
        shared.push_back(compress::cluster<compress::linear_init>(l.weight.value, k, *l.weight.keep));
        l.weight.value = shared.back().to_dense();
    }
    std::printf("  k-means (k = %zu, linear init) on the kept weights: test acc %.2f%%\n", k,
                100.0 * nn_accuracy(m, c.data));
    // 3. fine-tune the shared values: gradient of the decoded weights summed per cluster (and
    //    the biases by SGD), one epoch.
    {
        nn::data_loader loader(c.data.train_x, c.data.train_y, c.opt.batch, true, c.opt.seed + 7);
        nn::tensor x;
        nn::labels y;
        const float lr = 1e-4f, lr_bias = 1e-3f;
        progress bar("codebook fine-tune", loader.num_batches());
        double loss = 0.0;
        for (std::size_t b = 0; b < loader.num_batches(); ++b) {
            loader.batch(b, x, y);
            const nn::tensor logits = m.forward(x, true);
            const nn::loss_result r = nn::softmax_cross_entropy(logits, y);
            m.backward(nn::tensor(r.grad), false);
            for (std::size_t i = 1; i <= n; ++i) {
                nn::linear& l = fc(m, i);
                compress::finetune_codebook(shared[i - 1], l.weight.grad, lr);
                l.weight.value = shared[i - 1].to_dense();
                l.bias.value -= lr_bias * l.bias.grad;
            }
            loss += r.loss;
            bar.update(b + 1);
        }
        char line[96];
        std::snprintf(line, sizeof line, "loss %.4f  test acc %.4f", loss / loader.num_batches(), nn_accuracy(m, c.data));
        bar.finish(line);
    }
    // 4. Huffman coding of the relative-index layout (gaps and cluster indices)
    std::size_t stored = 0, fixed = 0;
    std::string detail;
    for (std::size_t i = 1; i <= n; ++i) {
        const auto& sw = shared[i - 1];
        const auto rel = compress::relative_encode(sw, 5);
        const auto hg = compress::huffman_encode(rel.gaps, std::size_t(1) << 5);
        const auto hc = compress::huffman_encode(rel.codes, sw.k());
        const std::size_t layer = hg.bytes() + hc.bytes() + sw.k() * sizeof(float) +
                                  fc(m, i).bias.value.size() * sizeof(float);
        stored += layer;
        fixed += rel.bytes() + fc(m, i).bias.value.size() * sizeof(float);
        char b[160];
        std::snprintf(b, sizeof b, "%sfc%zu %zu weights kept, index entropy %.2f bits, %zu B", detail.empty() ? "" : "; ",
                      i, sw.count(), compress::index_entropy(sw), layer);
        detail += b;
        const std::string p = "fc" + std::to_string(i);
        // The Huffman streams as raw byte tensors (io has no codec for them): any safetensors reader opens them.
        auto bytes_tensor = [](const std::vector<std::uint8_t>& v) {
            xt::xtensor<std::uint8_t, 1> t = xt::xtensor<std::uint8_t, 1>::from_shape({v.size()});
            std::copy(v.begin(), v.end(), t.begin());
            return t;
        };
        xt::xtensor<float, 1> cb = xt::xtensor<float, 1>::from_shape({sw.k()});
        std::copy(sw.codebook().begin(), sw.codebook().end(), cb.begin());
        o.file.add(p + ".weight.codebook", cb);
        o.file.add(p + ".weight.gaps.huffman_lengths", bytes_tensor(hg.lengths));
        o.file.add(p + ".weight.gaps.huffman_bits", bytes_tensor(hg.bits));
        o.file.add(p + ".weight.codes.huffman_lengths", bytes_tensor(hc.lengths));
        o.file.add(p + ".weight.codes.huffman_bits", bytes_tensor(hc.bits));
        o.file.add(p + ".bias", fc(m, i).bias.value);
    }
    o.has_file = true;
    o.reportable = false;  // its tensors are Huffman streams and codebooks, not the dense names
    o.train_seconds = now_seconds() - t0;
    o.model = deploy_csr(m, o.missing);
    o.stored_bytes = stored;
    o.storage_note = "Huffman-coded relative indices (5-bit gaps) and 4-bit cluster indices + fp32 codebooks + "
                     "fp32 biases (" + std::to_string(fixed) + " B before Huffman coding); " + detail +
                     ". Inference decodes the shared values into `csr<float>`.";
    o.note = "Han et al. 2016 on `cluster.hpp`: global magnitude pruning 90% + retraining, k-means (16 clusters, "
             "linear init) of each layer's survivors, one epoch of codebook fine-tuning (`finetune_codebook`), "
             "Huffman coding (`huffman_encode`) of the relative-index layout (`relative_encode`).";
    return o;
}

}  // namespace

std::vector<std::pair<std::string, technique>> pruning_techniques() {
    return {{"prune_global90", global90},
            {"prune_gradual90", gradual90},
            {"prune_rows50", rows50},
            {"deep_compression", deep_compression}};
}

}  // namespace demo
