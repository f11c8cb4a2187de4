#pragma once
// The layer interface of the training substrate (`module`), the `sequential` container with
// PyTorch-style names, forward hooks and the activation recorder.

#include <cstddef>
#include <functional>
#include <limits>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <xtensor/xarray.hpp>

#include "../core/error.hpp"
#include "config.hpp"
#include "parameter.hpp"

namespace compress::nn {
inline namespace COMPRESS_NN_ABI {

class module;

/// Called after a module's forward with the module, its output and the `train` flag.
using forward_hook = std::function<void(const module&, const tensor& output, bool train)>;

/// A layer: forward, backward, named parameters and buffers.
///
/// - `forward(x, train)` computes the output and keeps what backward needs. `train` selects
///   training behaviour (batch statistics in batch_norm); backward works after either mode.
/// - `backward(grad_output)` returns the gradient with respect to the last forward's input and
///   OVERWRITES the gradients of the parameters (no accumulation, unlike PyTorch: there is
///   nothing to zero between steps). `need_input_grad = false` skips the input gradient
///   (returns an empty tensor, shape [0]), as PyTorch does for an input that does not require grad.
class module {
public:
    virtual ~module() = default;

    tensor forward(tensor x, bool train) {
        tensor y = forward_impl(std::move(x), train);
        for (const auto& h : hooks_) h.second(*this, y, train);
        return y;
    }
    /// Converts any xtensor expression to the activation type first.
    template <class E>
    tensor forward(const xt::xexpression<E>& x, bool train) {
        return forward(tensor(x.derived_cast()), train);
    }
    tensor backward(tensor grad_output, bool need_input_grad = true) {
        return backward_impl(std::move(grad_output), need_input_grad);
    }
    template <class E>
    tensor backward(const xt::xexpression<E>& grad_output, bool need_input_grad = true) {
        return backward(tensor(grad_output.derived_cast()), need_input_grad);
    }

    /// Trainable parameters by PyTorch name (`fc1.weight`, `fc1.bias`, ...), in PyTorch's order.
    parameter_list parameters() {
        parameter_list p, b;
        collect("", p, b);
        return p;
    }
    /// Buffers (batch_norm running statistics) by PyTorch name.
    parameter_list buffers() {
        parameter_list p, b;
        collect("", p, b);
        return b;
    }
    /// Parameters then buffers: what PyTorch's state_dict() holds (except num_batches_tracked).
    parameter_list state() {
        parameter_list p, b;
        collect("", p, b);
        for (const auto& x : b) p.push_back(x);
        return p;
    }
    /// Sets every parameter gradient to zero (backward overwrites them anyway).
    void zero_grad() {
        for (const auto& p : parameters()) {
            float* g = p.grad_data();
            std::fill(g, g + p.size(), 0.0f);
        }
    }

    /// Registers a hook called after every forward of this module; returns its id.
    std::size_t add_forward_hook(forward_hook hook) {
        hooks_.emplace_back(++next_hook_id_, std::move(hook));
        return next_hook_id_;
    }
    /// Removes a hook by id (unknown ids are ignored).
    void remove_forward_hook(std::size_t id) {
        for (auto it = hooks_.begin(); it != hooks_.end(); ++it) {
            if (it->first == id) {
                hooks_.erase(it);
                return;
            }
        }
    }

    /// The module's name inside its container ("" at the top).
    const std::string& name() const noexcept { return name_; }
    void set_name(std::string name) { name_ = std::move(name); }

    /// A PyTorch-like one-line description, e.g. "Linear(in_features=784, out_features=300, bias=True)".
    virtual std::string describe() const = 0;
    /// A deep copy (parameters, masks, transforms; hooks are not copied).
    virtual std::unique_ptr<module> clone() const = 0;

    /// Appends this module's parameters and buffers, their names prefixed by `prefix`.
    virtual void collect(const std::string& prefix, parameter_list& params, parameter_list& buffers) {
        (void)prefix;
        (void)params;
        (void)buffers;
    }
    /// The sub-module at a dotted path ("features.conv1"); nullptr when this module has none.
    virtual module* find(const std::string& path) {
        (void)path;
        return nullptr;
    }

protected:
    module() = default;
    module(const module& o) : name_(o.name_) {}
    module& operator=(const module& o) {
        name_ = o.name_;
        return *this;
    }
    module(module&&) = default;
    module& operator=(module&&) = default;

    virtual tensor forward_impl(tensor x, bool train) = 0;
    virtual tensor backward_impl(tensor grad_output, bool need_input_grad) = 0;

    /// "linear 'fc1'" or "linear" for messages.
    std::string where(const char* kind) const {
        return name_.empty() ? std::string(kind) : std::string(kind) + " '" + name_ + "'";
    }

private:
    std::string name_;
    std::vector<std::pair<std::size_t, forward_hook>> hooks_;
    std::size_t next_hook_id_ = 0;
};

namespace detail {
/// What backward returns when the input gradient is not wanted: shape [0].
inline tensor empty_tensor() { return tensor::from_shape({0}); }

template <class D>
class module_impl : public module {
public:
    std::unique_ptr<module> clone() const override { return std::make_unique<D>(static_cast<const D&>(*this)); }
};

inline void check_name_part(const std::string& name, const char* where) {
    if (name.find('.') != std::string::npos) {
        throw value_error(std::string(where) + ": module name '" + name + "' contains '.'");
    }
}
}  // namespace detail

/// Layers applied in order. Children are named (`fc1`, `relu1`, ...; an empty name becomes
/// the child's index as in torch.nn.Sequential), and parameter names are
/// `<child>.<parameter>` (`fc1.weight`), nested containers adding their own prefix.
class sequential final : public module {
public:
    sequential() = default;
    sequential(const sequential& o) : module(o) {
        for (const auto& c : o.children_) children_.push_back(c->clone());
    }
    sequential& operator=(const sequential& o) {
        if (this != &o) {
            sequential tmp(o);
            *this = std::move(tmp);
        }
        return *this;
    }
    sequential(sequential&&) = default;
    sequential& operator=(sequential&&) = default;

    /// Appends a layer (moved in) and returns a reference to the stored one. Throws
    /// value_error on a duplicate name or a name containing '.'.
    template <class L, class = std::enable_if_t<std::is_base_of_v<module, std::decay_t<L>>>>
    std::decay_t<L>& add(std::string name, L&& layer) {
        auto p = std::make_unique<std::decay_t<L>>(std::forward<L>(layer));
        auto& ref = *p;
        add(std::move(name), std::unique_ptr<module>(std::move(p)));
        return ref;
    }
    module& add(std::string name, std::unique_ptr<module> layer) {
        if (!layer) throw value_error("sequential::add: null layer");
        if (name.empty()) name = std::to_string(children_.size());
        detail::check_name_part(name, "sequential::add");
        for (const auto& c : children_) {
            if (c->name() == name) throw value_error("sequential::add: a layer is already named '" + name + "'");
        }
        layer->set_name(std::move(name));
        children_.push_back(std::move(layer));
        return *children_.back();
    }

    std::size_t size() const noexcept { return children_.size(); }
    module& operator[](std::size_t i) const { return *children_.at(i); }
    std::vector<std::string> names() const {
        std::vector<std::string> out;
        for (const auto& c : children_) out.push_back(c->name());
        return out;
    }
    /// The layer at a dotted path; throws value_error when there is none.
    module& at(const std::string& path) {
        module* m = find(path);
        if (!m) throw value_error("sequential: no layer named '" + path + "' (layers: " + join_names() + ")");
        return *m;
    }
    /// The layer at a dotted path as type L; throws value_error when missing or of another type.
    template <class L>
    L& get(const std::string& path) {
        module& m = at(path);
        auto* p = dynamic_cast<L*>(&m);
        if (!p) throw value_error("sequential: layer '" + path + "' is " + m.describe() + ", not the requested type");
        return *p;
    }

    module* find(const std::string& path) override {
        const auto dot = path.find('.');
        const std::string head = path.substr(0, dot);
        for (const auto& c : children_) {
            if (c->name() == head) return dot == std::string::npos ? c.get() : c->find(path.substr(dot + 1));
        }
        return nullptr;
    }

    std::string describe() const override {
        std::string s = "Sequential(";
        for (const auto& c : children_) s += "\n  (" + c->name() + "): " + indent(c->describe());
        return s + (children_.empty() ? ")" : "\n)");
    }
    std::unique_ptr<module> clone() const override { return std::make_unique<sequential>(*this); }

    void collect(const std::string& prefix, parameter_list& params, parameter_list& buffers) override {
        for (const auto& c : children_) c->collect(prefix + c->name() + ".", params, buffers);
    }

protected:
    tensor forward_impl(tensor x, bool train) override {
        for (const auto& c : children_) x = c->forward(std::move(x), train);
        return x;
    }
    tensor backward_impl(tensor g, bool need_input_grad) override {
        for (std::size_t i = children_.size(); i-- > 0;) {
            g = children_[i]->backward(std::move(g), i > 0 || need_input_grad);
        }
        return g;
    }

private:
    std::string join_names() const {
        std::string s;
        for (const auto& c : children_) s += (s.empty() ? "" : ", ") + c->name();
        return s.empty() ? "none" : s;
    }
    static std::string indent(const std::string& s) {
        std::string out;
        for (char ch : s) {
            out += ch;
            if (ch == '\n') out += "  ";
        }
        return out;
    }

    std::vector<std::unique_ptr<module>> children_;
};

/// Records the outputs of named layers during forward passes (for activation-based pruning
/// criteria and for quantization calibration). The outputs of successive batches are
/// concatenated along the batch axis, up to `max_samples` rows per layer. The recorder removes
/// its hooks when destroyed; it must not outlive the model.
class activation_recorder {
public:
    /// Records the layers at the given dotted paths of `model` (value_error if one is missing).
    /// With `record_training = false` only eval-mode forwards (train == false) are recorded.
    activation_recorder(sequential& model, const std::vector<std::string>& layers,
                        std::size_t max_samples = std::numeric_limits<std::size_t>::max(),
                        bool record_training = false)
        : max_samples_(max_samples), record_training_(record_training) {
        for (const auto& path : layers) {
            module& m = model.at(path);
            auto slot = std::make_shared<record>();
            slot->path = path;
            slot->target = &m;
            std::weak_ptr<record> weak = slot;
            const std::size_t maxs = max_samples_;
            const bool rt = record_training_;
            slot->hook = m.add_forward_hook([weak, maxs, rt](const module&, const tensor& y, bool train) {
                auto r = weak.lock();
                if (!r || (train && !rt) || y.dimension() == 0) return;
                const std::size_t have = r->rows;
                if (have >= maxs) return;
                const std::size_t take = std::min<std::size_t>(y.shape()[0], maxs - have);
                if (take == y.shape()[0]) {
                    r->chunks.push_back(y);
                } else {
                    const std::size_t row = y.size() / y.shape()[0];
                    auto shape = y.shape();
                    shape[0] = take;
                    tensor part = tensor::from_shape(shape);
                    std::copy(y.data(), y.data() + take * row, part.data());
                    r->chunks.push_back(std::move(part));
                }
                r->rows += take;
            });
            records_.push_back(std::move(slot));
        }
    }
    ~activation_recorder() {
        for (auto& r : records_) r->target->remove_forward_hook(r->hook);
    }
    activation_recorder(const activation_recorder&) = delete;
    activation_recorder& operator=(const activation_recorder&) = delete;

    /// The recorded outputs of a layer, [rows, ...]; value_error for a layer not recorded,
    /// shape_error if batches of different trailing shapes were recorded.
    tensor get(const std::string& path) const {
        const record& r = find(path);
        if (r.chunks.empty()) return tensor::from_shape({0});
        auto shape = r.chunks.front().shape();
        const std::size_t row = r.chunks.front().size() / shape[0];
        shape[0] = r.rows;
        tensor out = tensor::from_shape(shape);
        float* dst = out.data();
        for (const auto& c : r.chunks) {
            if (c.dimension() != shape.size() || !std::equal(c.shape().begin() + 1, c.shape().end(), shape.begin() + 1)) {
                throw shape_error("activation_recorder: layer '" + path + "' produced outputs of shapes " +
                                  compress::detail::shape_str(r.chunks.front().shape()) + " and " +
                                  compress::detail::shape_str(c.shape()));
            }
            dst = std::copy(c.data(), c.data() + c.shape()[0] * row, dst);
        }
        return out;
    }
    std::size_t rows(const std::string& path) const { return find(path).rows; }
    void clear() {
        for (auto& r : records_) {
            r->chunks.clear();
            r->rows = 0;
        }
    }

private:
    struct record {
        std::string path;
        module* target = nullptr;
        std::size_t hook = 0;
        std::vector<tensor> chunks;
        std::size_t rows = 0;
    };
    const record& find(const std::string& path) const {
        for (const auto& r : records_) {
            if (r->path == path) return *r;
        }
        throw value_error("activation_recorder: layer '" + path + "' is not recorded");
    }

    std::size_t max_samples_;
    bool record_training_;
    std::vector<std::shared_ptr<record>> records_;
};

}  // namespace COMPRESS_NN_ABI
}  // namespace compress::nn
