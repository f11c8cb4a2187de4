#pragma once
// Fixtures shared by the nn test programs: a small synthetic classification problem and a
// two-layer MLP named as PyTorch would name it (fc1, relu1, fc2).
#include <cstddef>
#include <cstdint>

#include <compress/nn.hpp>

namespace nn_test {

struct toy_data {
    compress::nn::tensor x;
    compress::nn::labels y;
};

/// n points uniform in [-1, 1]^dim; the label is the arg-max of a fixed random linear map of the
/// inputs (learnable by a small MLP). Deterministic in `seed`.
inline toy_data make_toy(std::size_t n, std::size_t dim, std::size_t classes, std::uint64_t seed) {
    compress::nn::generator gen(seed);
    toy_data d;
    d.x = compress::nn::tensor::from_shape({n, dim});
    for (auto& v : d.x) v = gen.uniform(-1.f, 1.f);
    xt::xtensor<float, 2> proj = xt::zeros<float>({classes, dim});
    for (auto& v : proj) v = gen.uniform(-1.f, 1.f);
    d.y = compress::nn::labels::from_shape({n});
    for (std::size_t i = 0; i < n; ++i) {
        std::size_t best = 0;
        float best_v = -1e30f;
        for (std::size_t c = 0; c < classes; ++c) {
            float s = 0;
            for (std::size_t j = 0; j < dim; ++j) s += proj(c, j) * d.x(i, j);
            if (s > best_v) {
                best_v = s;
                best = c;
            }
        }
        d.y(i) = static_cast<std::int64_t>(best);
    }
    return d;
}

/// in -> hidden -> ReLU -> out, layers "fc1", "relu1", "fc2".
inline compress::nn::sequential mlp(compress::nn::generator& gen, std::size_t in, std::size_t hidden,
                                    std::size_t out) {
    compress::nn::sequential m;
    m.add("fc1", compress::nn::linear(in, hidden, gen));
    m.add("relu1", compress::nn::relu());
    m.add("fc2", compress::nn::linear(hidden, out, gen));
    return m;
}

}  // namespace nn_test
