// nn/conv.hpp and nn/batch_norm.hpp: conv2d, max_pool2d, batch_norm (train and eval), a
// LeNet-5-style stack; forward against direct loops and hand values, backward against finite
// differences.
#include <catch2/catch.hpp>

#include <cmath>
#include <limits>

#include <compress/nn.hpp>

#include "nn_gradcheck.hpp"

using namespace compress;
using nn::tensor;
using nn_test::gradcheck;
using nn_test::random_tensor;

namespace {
// Direct 6-loop cross-correlation: the reference for conv2d's im2col + GEMM.
tensor direct_conv(const tensor& x, const xt::xtensor<float, 4>& w, const xt::xtensor<float, 1>& b, std::size_t s,
                   std::size_t p) {
    const std::size_t B = x.shape()[0], C = x.shape()[1], H = x.shape()[2], W = x.shape()[3];
    const std::size_t O = w.shape()[0], k = w.shape()[2];
    const std::size_t OH = (H + 2 * p - k) / s + 1, OW = (W + 2 * p - k) / s + 1;
    tensor y = xt::zeros<float>({B, O, OH, OW});
    for (std::size_t n = 0; n < B; ++n)
        for (std::size_t o = 0; o < O; ++o)
            for (std::size_t i = 0; i < OH; ++i)
                for (std::size_t j = 0; j < OW; ++j) {
                    double acc = b.size() ? b(o) : 0.0;
                    for (std::size_t c = 0; c < C; ++c)
                        for (std::size_t ki = 0; ki < k; ++ki)
                            for (std::size_t kj = 0; kj < k; ++kj) {
                                const long ih = long(i * s + ki) - long(p), iw = long(j * s + kj) - long(p);
                                if (ih < 0 || iw < 0 || ih >= long(H) || iw >= long(W)) continue;
                                acc += double(w(o, c, ki, kj)) * x(n, c, std::size_t(ih), std::size_t(iw));
                            }
                    y(n, o, i, j) = float(acc);
                }
    return y;
}
}  // namespace

TEST_CASE("conv2d: a hand-computed 3x3 example", "[nn][conv]") {
    nn::generator gen(1);
    nn::conv2d conv(1, 1, 2, gen);
    conv.weight.value = xt::ones<float>({1, 1, 2, 2});
    conv.bias.value = {0.5f};
    tensor x = xt::zeros<float>({1, 1, 3, 3});
    for (std::size_t i = 0; i < 9; ++i) x.data()[i] = float(i + 1);  // 1..9
    tensor y = conv.forward(x, false);
    // windows: 1+2+4+5, 2+3+5+6, 4+5+7+8, 5+6+8+9, plus 0.5
    tensor expected = {{{{12.5f, 16.5f}, {24.5f, 28.5f}}}};
    CHECK((y == expected));
    CHECK(conv.describe() == "Conv2d(1, 1, kernel_size=(2, 2), stride=(1, 1), padding=(0, 0))");
}

TEST_CASE("conv2d matches a direct convolution for strides, padding, channels", "[nn][conv]") {
    nn::generator gen(2);
    for (auto [s, p] : {std::pair<std::size_t, std::size_t>{1, 0}, {1, 2}, {2, 1}, {3, 0}}) {
        nn::conv2d conv(3, 4, 3, gen, {s, p, true});
        tensor x = random_tensor({2, 3, 9, 8}, gen);
        tensor y = conv.forward(x, false);
        tensor ref = direct_conv(x, conv.weight.value, conv.bias.value, s, p);
        REQUIRE(y.shape() == ref.shape());
        CHECK(xt::allclose(y, ref, 1e-5, 1e-5));
    }
}

TEST_CASE("conv2d backward matches finite differences", "[nn][conv][grad]") {
    nn::generator gen(3);
    nn::conv2d a(2, 3, 3, gen);
    gradcheck(a, random_tensor({2, 2, 6, 5}, gen));
    nn::conv2d b(2, 2, 3, gen, {2, 1, false});
    CHECK(b.parameters().names() == std::vector<std::string>{"weight"});
    gradcheck(b, random_tensor({2, 2, 7, 6}, gen));
}

TEST_CASE("conv2d initialisation: U(±1/√(in·k·k))", "[nn][conv][init]") {
    nn::generator gen(4);
    nn::conv2d conv(6, 16, 5, gen);
    const float bound = 1.0f / std::sqrt(150.0f);
    CHECK(xt::amax(xt::abs(conv.weight.value))() < bound);
    CHECK(xt::amax(xt::abs(conv.weight.value))() > 0.95f * bound);
    CHECK(xt::amax(xt::abs(conv.bias.value))() < bound);
}

TEST_CASE("conv2d rejects bad shapes and options", "[nn][conv][errors]") {
    nn::generator gen(5);
    nn::conv2d conv(3, 2, 5, gen);
    conv.set_name("conv1");
    CHECK_THROWS_AS(conv.forward(tensor(xt::zeros<float>({1, 2, 8, 8})), false), shape_error);
    CHECK_THROWS_WITH(conv.forward(tensor(xt::zeros<float>({1, 2, 8, 8})), false),
                      "shape error: conv2d 'conv1': input has shape [1, 2, 8, 8], expected [batch, 3, height, width]");
    CHECK_THROWS_WITH(conv.forward(tensor(xt::zeros<float>({1, 3, 4, 8})), false),
                      "shape error: conv2d 'conv1': input of shape [1, 3, 4, 8] is smaller than the kernel (5) with padding 0");
    conv.forward(tensor(xt::zeros<float>({1, 3, 8, 8})), true);
    CHECK_THROWS_WITH(conv.backward(tensor(xt::zeros<float>({1, 2, 3, 3}))),
                      "shape error: conv2d 'conv1': gradient has shape [1, 2, 3, 3], expected [1, 2, 4, 4]");
    CHECK_THROWS_AS(nn::conv2d(3, 2, 0, gen), value_error);
    CHECK_THROWS_WITH(nn::conv2d(3, 2, 3, gen, {0, 0, true}),
                      "value error: conv2d: channels, kernel_size and stride must be positive, got in_channels=3, "
                      "out_channels=2, kernel_size=3, stride=0");
}

TEST_CASE("max_pool2d: hand values, gradient to the maximum", "[nn][pool]") {
    nn::max_pool2d pool(2);
    tensor x = {{{{1.f, 5.f, 2.f, 0.f}, {3.f, 4.f, 8.f, 1.f}, {0.f, 0.f, 1.f, 1.f}, {9.f, 0.f, 1.f, 2.f}}}};
    tensor y = pool.forward(x, true);
    CHECK((y == tensor{{{{5.f, 8.f}, {9.f, 2.f}}}}));
    tensor dx = pool.backward(tensor{{{{1.f, 2.f}, {3.f, 4.f}}}});
    tensor expected = {{{{0.f, 1.f, 0.f, 0.f}, {0.f, 0.f, 2.f, 0.f}, {0.f, 0.f, 0.f, 0.f}, {3.f, 0.f, 0.f, 4.f}}}};
    CHECK((dx == expected));
    // Ties: the first maximum (row-major) of the window takes the gradient.
    nn::max_pool2d tie(2);
    tie.forward(tensor(xt::ones<float>({1, 1, 2, 2})), true);
    CHECK((tie.backward(tensor(xt::ones<float>({1, 1, 1, 1}))) == tensor{{{{1.f, 0.f}, {0.f, 0.f}}}}));
    // NaN propagates (as in PyTorch).
    x(0, 0, 1, 1) = std::numeric_limits<float>::quiet_NaN();
    CHECK(std::isnan(pool.forward(x, false)(0, 0, 0, 0)));
}

TEST_CASE("max_pool2d with stride and padding; finite differences", "[nn][pool][grad]") {
    nn::generator gen(6);
    // Distinct values spaced 0.05 apart: no window has two entries within 2h of each other.
    tensor x = tensor::from_shape({2, 3, 7, 6});
    std::vector<std::size_t> perm(x.size());
    for (std::size_t i = 0; i < perm.size(); ++i) perm[i] = i;
    for (std::size_t i = perm.size(); i > 1; --i) std::swap(perm[i - 1], perm[gen.below(i)]);
    for (std::size_t i = 0; i < x.size(); ++i) x.data()[i] = 0.05f * float(perm[i]) - 5.0f;
    nn::max_pool2d a(2), b(3, 2, 1);
    CHECK(a.forward(x, false).shape() == std::vector<std::size_t>{2, 3, 3, 3});
    CHECK(b.forward(x, false).shape() == std::vector<std::size_t>{2, 3, 4, 3});
    CHECK(b.describe() == "MaxPool2d(kernel_size=3, stride=2, padding=1)");
    nn_test::gradcheck_options o;
    o.h = 1e-3f;
    gradcheck(a, x, o);
    gradcheck(b, x, o);
    CHECK_THROWS_WITH(nn::max_pool2d(2, 2, 2), "value error: max_pool2d: padding 2 is more than half the kernel size 2");
    CHECK_THROWS_WITH(a.forward(tensor(xt::zeros<float>({2, 3})), false),
                      "shape error: max_pool2d: input has shape [2, 3], expected [batch, channels, height, width]");
}

TEST_CASE("batch_norm training: normalised output, PyTorch running statistics", "[nn][bn]") {
    nn::batch_norm bn(2);
    // Channel 0: 1, 2, 3, 4 (mean 2.5, biased var 1.25, unbiased 5/3); channel 1: all 7.
    tensor x = {{1.f, 7.f}, {2.f, 7.f}, {3.f, 7.f}, {4.f, 7.f}};
    tensor y = bn.forward(x, true);
    const double inv = 1.0 / std::sqrt(1.25 + 1e-5);
    CHECK(y(0, 0) == Approx(-1.5 * inv));
    CHECK(y(3, 0) == Approx(1.5 * inv));
    CHECK(y(2, 1) == 0.0f);
    CHECK(bn.running_mean.value(0) == Approx(0.25));     // 0.9·0 + 0.1·2.5
    CHECK(bn.running_var.value(0) == Approx(0.9 + 0.1 * 5.0 / 3.0));
    CHECK(bn.running_mean.value(1) == Approx(0.7));
    CHECK(bn.running_var.value(1) == Approx(0.9));
    // Eval mode uses the running statistics.
    bn.weight.value = {2.f, 1.f};
    bn.bias.value = {1.f, 0.f};
    tensor e = bn.forward(tensor{{1.f, 0.7f}}, false);
    CHECK(e(0, 0) == Approx(2.0 * (1.0 - 0.25) / std::sqrt(0.9 + 0.5 / 3.0 + 1e-5) + 1.0));
    CHECK(e(0, 1) == Approx(0.0).margin(1e-6));
    // Names: parameters and buffers as in PyTorch's state_dict.
    nn::sequential m;
    m.add("bn1", nn::batch_norm(3));
    CHECK(m.parameters().names() == std::vector<std::string>{"bn1.weight", "bn1.bias"});
    CHECK(m.buffers().names() == std::vector<std::string>{"bn1.running_mean", "bn1.running_var"});
    CHECK(m.state().size() == 4);
    CHECK_FALSE(m.buffers()["bn1.running_var"].trainable());
}

TEST_CASE("batch_norm backward matches finite differences in train and eval mode", "[nn][bn][grad]") {
    nn::generator gen(7);
    nn::batch_norm a(3);
    for (auto& v : a.weight.value) v = gen.uniform(0.5f, 1.5f);
    for (auto& v : a.bias.value) v = gen.uniform(-0.5f, 0.5f);
    gradcheck(a, random_tensor({5, 3}, gen));
    nn::batch_norm b(2);
    for (auto& v : b.weight.value) v = gen.uniform(0.5f, 1.5f);
    gradcheck(b, random_tensor({3, 2, 4, 3}, gen));
    nn_test::gradcheck_options eval;
    eval.train = false;
    b.running_mean.value = {0.2f, -0.1f};
    b.running_var.value = {0.5f, 2.0f};
    gradcheck(b, random_tensor({3, 2, 4, 3}, gen), eval);
}

TEST_CASE("batch_norm rejects bad input", "[nn][bn][errors]") {
    nn::batch_norm bn(4);
    CHECK_THROWS_AS(bn.forward(tensor(xt::zeros<float>({2, 3})), true), shape_error);
    CHECK_THROWS_WITH(bn.forward(tensor(xt::zeros<float>({2, 3})), true),
                      "shape error: batch_norm: input has shape [2, 3], expected [batch, 4, ...]");
    CHECK_THROWS_WITH(bn.forward(tensor(xt::zeros<float>({1, 4})), true),
                      "value error: batch_norm: training needs more than one value per channel, got input shape [1, 4]");
    CHECK_NOTHROW(bn.forward(tensor(xt::zeros<float>({1, 4})), false));
    CHECK_THROWS_WITH(nn::batch_norm(4, 1e-5, 1.5), "value error: batch_norm: momentum must be in [0, 1], got 1.500000");
    CHECK_THROWS_WITH(nn::batch_norm(0), "value error: batch_norm: num_features must be positive");
}

TEST_CASE("a LeNet-5-style stack: names, shapes and end-to-end gradients", "[nn][conv][grad]") {
    nn::generator gen(8);
    nn::sequential m;
    m.add("conv1", nn::conv2d(1, 3, 5, gen, {1, 2, true}));
    m.add("bn1", nn::batch_norm(3));
    m.add("relu1", nn::relu());
    m.add("pool1", nn::max_pool2d(2));
    m.add("conv2", nn::conv2d(3, 4, 3, gen));
    m.add("relu2", nn::relu());
    m.add("pool2", nn::max_pool2d(2));
    m.add("flatten", nn::flatten());
    m.add("fc1", nn::linear(4 * 2 * 2, 5, gen));
    CHECK(m.parameters().names() == std::vector<std::string>{"conv1.weight", "conv1.bias", "bn1.weight", "bn1.bias",
                                                             "conv2.weight", "conv2.bias", "fc1.weight", "fc1.bias"});
    tensor x = random_tensor({3, 1, 12, 12}, gen);
    CHECK(m.forward(x, false).shape() == std::vector<std::size_t>{3, 5});
    nn_test::gradcheck_options o;
    o.h = 1e-3f;  // small steps, so that relu and max-pool kinks are not crossed (2e-3 crosses one)
    o.abs_tol = 5e-3;
    o.max_checks = 60;
    gradcheck(m, x, o);
}

#if defined(COMPRESS_USE_OPENMP) && COMPRESS_USE_OPENMP
#include <omp.h>
TEST_CASE("conv2d with 1, 2 and 3 threads: the same outputs and gradients (to rounding)", "[nn][conv][openmp]") {
    nn::generator gen(9);
    nn::conv2d conv(3, 5, 3, gen, {1, 1, true});
    tensor x = random_tensor({5, 3, 9, 9}, gen);  // 5 samples over 3 threads: uneven ranges
    tensor g = random_tensor({5, 5, 9, 9}, gen);
    const int saved = omp_get_max_threads();
    std::vector<tensor> ys, dxs;
    std::vector<xt::xtensor<float, 4>> dws;
    std::vector<xt::xtensor<float, 1>> dbs;
    for (int t : {1, 2, 3, 8}) {  // 8 threads > 5 samples
        omp_set_num_threads(t);
        ys.push_back(conv.forward(x, true));
        dxs.push_back(conv.backward(g));
        dws.push_back(conv.weight.grad);
        dbs.push_back(conv.bias.grad);
    }
    omp_set_num_threads(saved);
    for (std::size_t i = 1; i < ys.size(); ++i) {
        CHECK((ys[i] == ys[0]));    // forward: each sample is computed by one thread, same code
        CHECK((dxs[i] == dxs[0]));  // input gradient: likewise
        CHECK(xt::allclose(dws[i], dws[0], 1e-5, 1e-6));  // per-thread partial sums, added in order
        CHECK(xt::allclose(dbs[i], dbs[0], 1e-5, 1e-6));
    }
    tensor ref = direct_conv(x, conv.weight.value, conv.bias.value, 1, 1);
    CHECK(xt::allclose(ys[0], ref, 1e-5, 1e-5));
}
#endif
