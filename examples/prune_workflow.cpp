// The pruning workflows of docs/prune.md on a small two-layer network trained by hand:
//   1. 50% magnitude pruning, then fine-tuning with masked gradients (constant sparsity);
//   2. gradual pruning 0 -> 90% with polynomial_decay;
//   3. structured: 50% of the hidden neurons by row norm, then remove_neurons;
//   4. a user-defined criterion.
// Data: a random "teacher" network; the student learns to imitate it (mean squared error).
#include <cmath>
#include <cstdio>
#include <random>

#include <compress/prune.hpp>
#include <xtensor/xtensor.hpp>

namespace {
using mat = xt::xtensor<float, 2>;
using vec = xt::xtensor<float, 1>;

struct net {
    mat w1;  // [hidden, in]
    vec b1;  // [hidden]
    mat w2;  // [out, hidden]
};

mat randn(std::size_t r, std::size_t c, std::mt19937& rng, float scale) {
    std::normal_distribution<float> nd(0.f, scale);
    mat m = mat::from_shape({r, c});
    for (auto& v : m) v = nd(rng);
    return m;
}

/// y = relu(x w1^T + b1) w2^T for a batch x [B, in]; also returns the hidden activations.
mat forward(const net& n, const mat& x, mat* hidden = nullptr) {
    const std::size_t B = x.shape()[0], H = n.w1.shape()[0], I = x.shape()[1], O = n.w2.shape()[0];
    mat h = mat::from_shape({B, H});
    for (std::size_t b = 0; b < B; ++b)
        for (std::size_t j = 0; j < H; ++j) {
            float s = n.b1(j);
            for (std::size_t i = 0; i < I; ++i) s += n.w1(j, i) * x(b, i);
            h(b, j) = s > 0.f ? s : 0.f;
        }
    mat y = mat::from_shape({B, O});
    for (std::size_t b = 0; b < B; ++b)
        for (std::size_t o = 0; o < O; ++o) {
            float s = 0.f;
            for (std::size_t j = 0; j < H; ++j) s += n.w2(o, j) * h(b, j);
            y(b, o) = s;
        }
    if (hidden) *hidden = h;
    return y;
}

double mse(const mat& a, const mat& b) {
    double s = 0.0;
    for (std::size_t i = 0; i < a.size(); ++i) s += double(a.data()[i] - b.data()[i]) * double(a.data()[i] - b.data()[i]);
    return s / double(a.size());
}

/// Gradients of the MSE w.r.t. w1 and w2 (b1 is kept fixed for brevity).
void gradients(const net& n, const mat& x, const mat& target, mat& g1, mat& g2) {
    mat h;
    const mat y = forward(n, x, &h);
    const std::size_t B = x.shape()[0], H = n.w1.shape()[0], I = x.shape()[1], O = n.w2.shape()[0];
    g1 = xt::zeros<float>({H, I});
    g2 = xt::zeros<float>({O, H});
    const float k = 2.f / float(y.size());
    for (std::size_t b = 0; b < B; ++b) {
        for (std::size_t o = 0; o < O; ++o) {
            const float d = k * (y(b, o) - target(b, o));
            for (std::size_t j = 0; j < H; ++j) g2(o, j) += d * h(b, j);
        }
        for (std::size_t j = 0; j < H; ++j) {
            if (h(b, j) <= 0.f) continue;
            float dh = 0.f;
            for (std::size_t o = 0; o < O; ++o) dh += k * (y(b, o) - target(b, o)) * n.w2(o, j);
            for (std::size_t i = 0; i < I; ++i) g1(j, i) += dh * x(b, i);
        }
    }
}

// 4. A user-defined criterion: magnitude relative to the mean magnitude of the output neuron.
struct row_relative {
    using policy_kind = compress::policy::criterion;
    template <class E, class Ctx>
    auto scores(const E& w, const Ctx&) const {
        auto a = xt::eval(xt::abs(w));
        // The row means evaluated first: xtensor 0.24.3's lazy keep_dims reducer, broadcast
        // inside a / mean(...), reads past the end of `a` (valgrind: "0 bytes after a block").
        const auto mean = xt::eval(xt::mean(a, {1}, xt::keep_dims));
        return xt::eval(a / mean);
    }
};
}  // namespace

int main() {
    std::mt19937 rng(7);
    const std::size_t I = 16, H = 32, O = 4, B = 128;
    const net teacher{randn(H, I, rng, 0.5f), xt::zeros<float>({H}), randn(O, H, rng, 0.5f)};
    const mat x = randn(B, I, rng, 1.f);
    const mat target = forward(teacher, x);
    net student{randn(H, I, rng, 0.3f), vec(xt::ones<float>({H}) * 0.05f), randn(O, H, rng, 0.3f)};
    const float lr = 0.02f;
    for (int step = 0; step < 1500; ++step) {  // dense training
        mat g1, g2;
        gradients(student, x, target, g1, g2);
        student.w1 -= lr * g1;
        student.w2 -= lr * g2;
    }
    std::printf("dense student        mse %.5f\n", mse(forward(student, x), target));

    // 1. 50% magnitude pruning, then fine-tuning: gradients and weights stay masked.
    {
        net n = student;
        auto m1 = compress::prune<compress::magnitude>(n.w1, 0.5);
        auto m2 = compress::prune<compress::magnitude>(n.w2, 0.5);
        std::printf("pruned 50%%           mse %.5f\n", mse(forward(n, x), target));
        for (int step = 0; step < 500; ++step) {
            mat g1, g2;
            gradients(n, x, target, g1, g2);
            compress::mask_gradient(g1, m1);
            compress::mask_gradient(g2, m2);
            n.w1 -= lr * g1;
            n.w2 -= lr * g2;
            compress::apply_mask(n.w1, m1);  // a no-op for plain SGD; needed with momentum / decay
            compress::apply_mask(n.w2, m2);
        }
        compress::sparsity_report r;
        r.add("w1", m1);
        r.add("w2", m2);
        std::printf("fine-tuned 50%%        mse %.5f\n%s", mse(forward(n, x), target), r.to_string().c_str());
    }

    // 2. Gradual pruning 0 -> 90% (Zhu & Gupta) over 1000 steps, updating every 100.
    {
        net n = student;
        compress::scheduled_pruner<compress::polynomial_decay> sched(compress::polynomial_decay(0.0, 0.9, 0, 1000, 3.0, 100));
        compress::mask<2> m1({H, I}), m2({O, H});
        for (std::int64_t step = 0; step < 1500; ++step) {
            sched.update(step, n.w1, m1);
            sched.update(step, n.w2, m2);
            mat g1, g2;
            gradients(n, x, target, g1, g2);
            compress::mask_gradient(g1, m1);
            compress::mask_gradient(g2, m2);
            n.w1 -= lr * g1;
            n.w2 -= lr * g2;
        }
        std::printf("gradual 90%%           mse %.5f (sparsity w1 %.3f, w2 %.3f)\n", mse(forward(n, x), target), m1.sparsity(),
                    m2.sparsity());
    }

    // 3. Structured: half the hidden neurons by L2 norm of their input weights, then remove them.
    {
        compress::layer_pair<float, 2, 2> pair;
        pair.weight = student.w1;
        pair.bias = student.b1;
        pair.next_weight = student.w2;
        auto rows = compress::prune<compress::magnitude, compress::rows<compress::l2>>(pair.weight, 0.5);
        const net masked{pair.weight, pair.bias, pair.next_weight};
        auto small = compress::remove_neurons(pair, rows);  // ReLU between the layers (the default)
        // The removed neurons' constant outputs relu(b1_j) are folded into the next bias; this
        // small net has no output bias, so add it back by hand when evaluating.
        net shrunk{small.weight, small.bias, small.next_weight};
        mat ys = forward(shrunk, x);
        for (std::size_t b = 0; b < B; ++b)
            for (std::size_t o = 0; o < O; ++o) ys(b, o) += small.next_bias(o);
        std::printf("rows 50%% + remove     hidden %zu -> %zu, |shrunk - masked| max %.2e, mse %.5f\n", H,
                    small.weight.shape()[0], double(xt::amax(xt::abs(ys - forward(masked, x)))()), mse(ys, target));
    }

    // 4. The custom criterion, unstructured and per row.
    {
        net n = student;
        auto m = compress::prune<row_relative>(n.w1, 0.7);
        std::printf("row-relative 70%%      mse %.5f (kept %zu of %zu)\n", mse(forward(n, x), target), m.kept(), m.size());
    }
    return 0;
}
