#pragma once
// Training loops: a seeded shuffling batch loader, one training step, one epoch, evaluation,
// and pruning on a schedule inside the loop.

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include <xtensor/xtensor.hpp>

#include "../core/error.hpp"
#include "../core/tensor.hpp"
#include "config.hpp"
#include "loss.hpp"
#include "module.hpp"
#include "parameter.hpp"

namespace compress::nn {
inline namespace COMPRESS_NN_ABI {

/// Batches of (inputs, labels) from a data set held by the caller ([samples, ...] and
/// [samples]). With `shuffle`, every epoch visits the samples in a permutation drawn from
/// (seed, epoch) alone: the same seed gives the same batches, whatever happened before.
/// The last batch is smaller unless `drop_last`. The loader keeps pointers to the data: the
/// data must outlive it (temporaries are refused at compile time).
class data_loader {
public:
    data_loader(const tensor& inputs, const labels& targets, std::size_t batch_size, bool shuffle = true,
                std::uint64_t seed = 0, bool drop_last = false)
        : x_(&inputs), y_(&targets), batch_(batch_size), shuffle_(shuffle), seed_(seed), drop_last_(drop_last) {
        if (batch_size == 0) throw value_error("data_loader: batch_size must be positive");
        if (inputs.dimension() < 1) throw shape_error("data_loader: inputs must be [samples, ...], got a 0-d tensor");
        if (inputs.shape()[0] != targets.size()) {
            throw shape_error("data_loader: " + std::to_string(inputs.shape()[0]) + " inputs (shape " +
                              compress::detail::shape_str(inputs.shape()) + ") but " + std::to_string(targets.size()) +
                              " labels");
        }
        set_epoch(0);
    }
    data_loader(tensor&&, const labels&, std::size_t, bool = true, std::uint64_t = 0, bool = false) = delete;
    data_loader(const tensor&, labels&&, std::size_t, bool = true, std::uint64_t = 0, bool = false) = delete;

    std::size_t samples() const noexcept { return y_->size(); }
    std::size_t batch_size() const noexcept { return batch_; }
    std::size_t num_batches() const noexcept {
        return drop_last_ ? samples() / batch_ : (samples() + batch_ - 1) / batch_;
    }
    /// Draws the order of an epoch (identity without shuffling).
    void set_epoch(std::size_t epoch) {
        order_.resize(samples());
        for (std::size_t i = 0; i < order_.size(); ++i) order_[i] = i;
        if (!shuffle_) return;
        generator gen(seed_ ^ (0x9E3779B97F4A7C15ull * (static_cast<std::uint64_t>(epoch) + 1)));
        for (std::size_t i = order_.size(); i > 1; --i) {
            const std::size_t j = static_cast<std::size_t>(gen.below(i));
            std::swap(order_[i - 1], order_[j]);
        }
    }
    const std::vector<std::size_t>& order() const noexcept { return order_; }

    /// Copies batch `i` of the current epoch into x ([b, ...]) and y ([b]).
    void batch(std::size_t i, tensor& x, labels& y) const {
        if (i >= num_batches()) {
            throw value_error("data_loader: batch " + std::to_string(i) + " of an epoch with " +
                              std::to_string(num_batches()) + " batches");
        }
        const std::size_t lo = i * batch_, hi = std::min(samples(), lo + batch_);
        const std::size_t row = samples() == 0 ? 0 : x_->size() / samples();
        auto shape = x_->shape();
        shape[0] = hi - lo;
        if (x.shape() != shape) x = tensor::from_shape(shape);
        y = labels::from_shape({hi - lo});
        const float* src = x_->data();
        float* dst = x.data();
        for (std::size_t k = lo; k < hi; ++k) {
            const std::size_t s = order_[k];
            std::copy(src + s * row, src + (s + 1) * row, dst + (k - lo) * row);
            y(k - lo) = (*y_)(s);
        }
    }

private:
    const tensor* x_;
    const labels* y_;
    std::size_t batch_;
    bool shuffle_;
    std::uint64_t seed_;
    bool drop_last_;
    std::vector<std::size_t> order_;
};

/// Loss of a batch: (inputs, logits, labels) -> loss and gradient with respect to the logits.
/// Distillation passes a teacher-aware loss here; empty means softmax_cross_entropy.
using loss_fn = std::function<loss_result(const tensor& inputs, const tensor& logits, const labels& y)>;
/// Called after every optimizer step with the optimizer's step count (1, 2, ...).
using step_callback = std::function<void(std::size_t step)>;

struct epoch_stats {
    double loss = 0.0;      ///< mean over samples of the per-batch mean loss
    double accuracy = 0.0;  ///< fraction of training samples classified right (during the epoch)
    std::size_t samples = 0;
    std::size_t steps = 0;
    double seconds = 0.0;   ///< wall time of the epoch
};

/// One optimizer step on one batch: forward (train mode), loss, backward, step. Returns the loss.
template <class Optimizer>
loss_result train_step(module& model, Optimizer& opt, const tensor& x, const labels& y, const loss_fn& loss = {}) {
    tensor logits = model.forward(x, true);
    loss_result r = loss ? loss(x, logits, y) : softmax_cross_entropy(logits, y);
    model.backward(tensor(r.grad), false);
    opt.step();
    return r;
}

/// One epoch over `loader` (shuffled for `epoch`), a step per batch, `after_step` after each.
template <class Optimizer>
epoch_stats train_epoch(module& model, Optimizer& opt, data_loader& loader, std::size_t epoch,
                        const step_callback& after_step = {}, const loss_fn& loss = {}) {
    const auto t0 = std::chrono::steady_clock::now();
    loader.set_epoch(epoch);
    epoch_stats s;
    tensor x;
    labels y;
    double total = 0.0;
    std::size_t correct = 0;
    for (std::size_t b = 0, nb = loader.num_batches(); b < nb; ++b) {
        loader.batch(b, x, y);
        tensor logits = model.forward(x, true);
        loss_result r = loss ? loss(x, logits, y) : softmax_cross_entropy(logits, y);
        model.backward(tensor(r.grad), false);
        opt.step();
        total += r.loss * static_cast<double>(y.size());
        correct += loss ? count_correct(logits, y) : r.correct;
        s.samples += y.size();
        ++s.steps;
        if (after_step) after_step(opt.steps());
    }
    if (s.samples) {
        s.loss = total / static_cast<double>(s.samples);
        s.accuracy = static_cast<double>(correct) / static_cast<double>(s.samples);
    }
    s.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    return s;
}

struct eval_stats {
    double loss = 0.0;      ///< mean softmax cross-entropy
    double accuracy = 0.0;  ///< fraction classified right (arg-max, first maximum on ties)
    std::size_t samples = 0;
};

/// Loss and accuracy of `model` (eval mode) on a data set, in batches of `batch_size`.
inline eval_stats evaluate(module& model, const tensor& inputs, const labels& y, std::size_t batch_size = 1000) {
    data_loader loader(inputs, y, batch_size, false);
    eval_stats s;
    tensor x;
    labels yb;
    double total = 0.0;
    std::size_t correct = 0;
    for (std::size_t b = 0, nb = loader.num_batches(); b < nb; ++b) {
        loader.batch(b, x, yb);
        const loss_result r = softmax_cross_entropy(model.forward(x, false), yb);
        total += r.loss * static_cast<double>(yb.size());
        correct += r.correct;
        s.samples += yb.size();
    }
    if (s.samples) {
        s.loss = total / static_cast<double>(s.samples);
        s.accuracy = static_cast<double>(correct) / static_cast<double>(s.samples);
    }
    return s;
}

// ---------------------------------------------------------------- pruning in the loop

namespace detail {
template <class S, class = void>
struct has_sparsity_at : std::false_type {};
template <class S>
struct has_sparsity_at<S, std::void_t<decltype(std::declval<const S&>().sparsity_at(std::size_t{}))>>
    : std::is_convertible<decltype(std::declval<const S&>().sparsity_at(std::size_t{})), std::optional<double>> {};
}  // namespace detail

/// Computes a new mask for a parameter at a target sparsity and installs it (parameter::set_mask).
using mask_updater = std::function<void(const parameter& p, double sparsity)>;

/// Gradual pruning inside the training loop: every `every` optimizer steps, asks the schedule
/// for a sparsity (`schedule.sparsity_at(step)` -> std::optional<double>, e.g. prune.hpp's
/// polynomial_decay) and, when it answers, re-masks each target parameter with `update`. Use it
/// as train_epoch's `after_step`. Masked entries then stay exactly zero through the optimizer.
template <class Schedule>
class scheduled_pruning {
    static_assert(detail::has_sparsity_at<Schedule>::value,
                  "scheduled_pruning<Schedule>: Schedule must answer sparsity_at(step) -> std::optional<double>");

public:
    scheduled_pruning(parameter_list targets, Schedule schedule, std::size_t every, mask_updater update)
        : targets_(std::move(targets)), schedule_(std::move(schedule)), every_(every), update_(std::move(update)) {
        if (every == 0) throw value_error("scheduled_pruning: every must be positive");
        if (!update_) throw value_error("scheduled_pruning: the mask updater is empty");
    }

    /// Called with the optimizer's step count after each step.
    void operator()(std::size_t step) {
        if (step % every_ != 0) return;
        const std::optional<double> s = schedule_.sparsity_at(step);
        if (!s) return;
        compress::detail::check_fraction(*s, "scheduled_pruning: sparsity");
        for (const auto& p : targets_) update_(p, *s);
        last_ = s;
        ++updates_;
    }
    /// The last sparsity applied, if any.
    std::optional<double> last_sparsity() const noexcept { return last_; }
    std::size_t updates() const noexcept { return updates_; }
    const Schedule& schedule() const noexcept { return schedule_; }

private:
    parameter_list targets_;
    Schedule schedule_;
    std::size_t every_;
    mask_updater update_;
    std::optional<double> last_;
    std::size_t updates_ = 0;
};

}  // namespace COMPRESS_NN_ABI
}  // namespace compress::nn
