// Training with compress::nn: the MLPs, the loop with its progress line, the dense deployment.
#include "demo.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <unistd.h>

namespace demo {

double now_seconds() {
    return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// ---------------------------------------------------------------- progress

progress::progress(std::string label, std::size_t total)
    : label_(std::move(label)), total_(std::max<std::size_t>(total, 1)), tty_(isatty(STDOUT_FILENO) != 0) {}

void progress::update(std::size_t done, const std::string& status) {
    if (!tty_) return;
    const double f = std::min(1.0, static_cast<double>(done) / static_cast<double>(total_));
    if (f - last_ < 0.01 && done < total_) return;  // redraw at most every 1%
    last_ = f;
    const int width = 30;
    const int full = static_cast<int>(f * width + 0.5);
    std::string bar(static_cast<std::size_t>(full), '#');
    bar.resize(width, '.');
    std::printf("\r  %-34s [%s] %3d%%  %s\x1b[K", label_.c_str(), bar.c_str(), static_cast<int>(f * 100 + 0.5),
                status.c_str());
    std::fflush(stdout);
}

void progress::finish(const std::string& status) {
    if (tty_) std::printf("\r\x1b[K");
    std::printf("  %-34s %s\n", label_.c_str(), status.c_str());
    std::fflush(stdout);
}

// ---------------------------------------------------------------- models

nn::sequential make_mlp(const std::vector<std::size_t>& widths, std::uint64_t seed) {
    if (widths.size() < 2) throw compress::value_error("make_mlp: needs at least an input and an output width");
    nn::generator gen(seed);
    nn::sequential m;
    for (std::size_t i = 0; i + 1 < widths.size(); ++i) {
        m.add("fc" + std::to_string(i + 1), nn::linear(widths[i], widths[i + 1], gen));
        if (i + 2 < widths.size()) m.add("relu" + std::to_string(i + 1), nn::relu());
    }
    return m;
}

std::size_t num_layers(nn::sequential& model) {
    std::size_t n = 0;
    for (const auto& name : model.names()) n += name.rfind("fc", 0) == 0;
    return n;
}

nn::linear& fc(nn::sequential& model, std::size_t i) { return model.get<nn::linear>("fc" + std::to_string(i)); }

std::vector<std::size_t> widths_of(nn::sequential& model) {
    std::vector<std::size_t> w;
    const std::size_t n = num_layers(model);
    for (std::size_t i = 1; i <= n; ++i) {
        if (i == 1) w.push_back(fc(model, i).in_features());
        w.push_back(fc(model, i).out_features());
    }
    return w;
}

double nn_accuracy(nn::sequential& model, const dataset& data) {
    return nn::evaluate(model, data.test_x, data.test_y, 1000).accuracy;
}

double train(nn::sequential& model, const dataset& data, const options& opt, const train_plan& plan) {
    const double t0 = now_seconds();
    nn::adam optim(model.parameters(), {plan.lr});
    nn::data_loader loader(data.train_x, data.train_y, opt.batch, true, plan.seed);
    const std::size_t nb = loader.num_batches();
    const nn::cosine_lr schedule(plan.epochs * nb, plan.lr / 20.0);
    for (std::size_t epoch = 0; epoch < plan.epochs; ++epoch) {
        progress bar(plan.label + " epoch " + std::to_string(epoch + 1) + "/" + std::to_string(plan.epochs), nb);
        std::size_t batch = 0;
        const nn::step_callback step = [&](std::size_t s) {
            optim.set_lr(schedule.lr_at(s, plan.lr));
            if (plan.after_step) plan.after_step(s);
            bar.update(++batch);
        };
        const nn::epoch_stats st = nn::train_epoch(model, optim, loader, epoch, step, plan.loss);
        char line[160];
        if (plan.eval_each_epoch) {
            const double acc = nn_accuracy(model, data);
            std::snprintf(line, sizeof line, "loss %.4f  train acc %.4f  test acc %.4f  (%.1f s)", st.loss,
                          st.accuracy, acc, st.seconds);
        } else {
            std::snprintf(line, sizeof line, "loss %.4f  train acc %.4f  (%.1f s)", st.loss, st.accuracy, st.seconds);
        }
        bar.finish(line);
    }
    return now_seconds() - t0;
}

// ---------------------------------------------------------------- deployed models

matrix deployed_model::forward(const matrix& x) const {
    matrix h = x;
    for (const auto& l : layers) {
        h = l.run(h);
        if (l.relu) {
            float* p = h.data();
            for (std::size_t i = 0, n = h.size(); i < n; ++i) p[i] = p[i] > 0.0f ? p[i] : 0.0f;
        }
    }
    return h;
}

std::size_t deployed_model::bytes() const {
    std::size_t b = 0;
    for (const auto& l : layers) b += l.bytes;
    return b;
}

deployed_model deploy_dense(nn::sequential& model) {
    deployed_model d;
    const std::size_t n = num_layers(model);
    for (std::size_t i = 1; i <= n; ++i) {
        auto w = std::make_shared<matrix>(fc(model, i).weight.value);
        auto b = std::make_shared<vector>(fc(model, i).bias.value);
        deployed_layer l;
        l.name = "fc" + std::to_string(i);
        l.run = [w, b](const matrix& x) { return compress::linear(x, *w, *b); };
        l.bytes = (w->size() + b->size()) * sizeof(float);
        l.relu = i < n;
        d.layers.push_back(std::move(l));
    }
    return d;
}

compress::io::compressed_model dense_file(nn::sequential& model) {
    compress::io::compressed_model f;
    for (const auto& p : model.parameters()) {
        if (p.rank() == 2) {
            f.add(p.name(), p.value<2>());
        } else {
            f.add(p.name(), p.value<1>());
        }
    }
    return f;
}

}  // namespace demo
