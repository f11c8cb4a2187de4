// nn/layers.hpp, nn/module.hpp, nn/parameter.hpp: linear, relu, flatten, fake_quant,
// sequential, named parameters, initialisation.
#include <catch2/catch.hpp>

#include <cmath>
#include <set>
#include <string>

#include <compress/nn.hpp>

#include "nn_gradcheck.hpp"

using namespace compress;
using nn::tensor;
using nn_test::gradcheck;
using nn_test::random_tensor;

TEST_CASE("linear computes x·Wᵀ + b", "[nn][linear]") {
    nn::generator gen(1);
    nn::linear fc(3, 2, gen);
    fc.weight.value = {{1.f, 2.f, 3.f}, {-1.f, 0.5f, 0.f}};
    fc.bias.value = {0.5f, -2.f};
    tensor x = {{1.f, 0.f, -1.f}, {2.f, 1.f, 1.f}};
    tensor y = fc.forward(x, false);
    // Hand-computed: row 0: (1 - 3 + .5, -1 + 0 - 2); row 1: (2 + 2 + 3 + .5, -2 + .5 - 2)
    tensor expected = {{-1.5f, -3.f}, {7.5f, -3.5f}};
    CHECK((y == expected));
}

TEST_CASE("linear backward matches finite differences", "[nn][linear][grad]") {
    nn::generator gen(2);
    nn::linear fc(7, 5, gen);
    CHECK(gradcheck(fc, random_tensor({4, 7}, gen)) == 28 + 35 + 5);
    nn::linear no_bias(6, 3, gen, false);
    CHECK(no_bias.parameters().size() == 1);
    gradcheck(no_bias, random_tensor({2, 6}, gen));
}

TEST_CASE("linear gradients are the closed forms gᵀx, Σg and gW", "[nn][linear][grad]") {
    nn::generator gen(3);
    nn::linear fc(2, 2, gen);
    fc.weight.value = {{1.f, 2.f}, {3.f, 4.f}};
    tensor x = {{1.f, -1.f}};
    fc.forward(x, true);
    tensor dx = fc.backward(tensor{{1.f, 2.f}});
    CHECK((fc.weight.grad == xt::xtensor<float, 2>{{1.f, -1.f}, {2.f, -2.f}}));
    CHECK((fc.bias.grad == xt::xtensor<float, 1>{1.f, 2.f}));
    CHECK((dx == tensor{{7.f, 10.f}}));
    // need_input_grad = false skips dx but still writes the parameter gradients.
    fc.forward(x, true);
    CHECK(fc.backward(tensor{{0.f, 1.f}}, false).size() == 0);
    CHECK((fc.weight.grad == xt::xtensor<float, 2>{{0.f, 0.f}, {1.f, -1.f}}));
}

TEST_CASE("linear rejects wrong shapes with the layer's name", "[nn][linear][errors]") {
    nn::generator gen(4);
    nn::sequential m;
    m.add("fc1", nn::linear(4, 3, gen));
    tensor bad = xt::zeros<float>({2, 5});
    CHECK_THROWS_AS(m.forward(bad, true), shape_error);
    CHECK_THROWS_WITH(m.forward(bad, true),
                      "shape error: linear 'fc1' (4 -> 3): input has shape [2, 5], expected [batch, 4]");
    m.forward(tensor(xt::zeros<float>({2, 4})), true);
    CHECK_THROWS_WITH(m.backward(tensor(xt::zeros<float>({3, 3}))),
                      "shape error: linear 'fc1': gradient has shape [3, 3], expected [2, 3]");
    nn::linear fresh(2, 2, gen);
    CHECK_THROWS_WITH(fresh.backward(tensor(xt::zeros<float>({1, 2}))),
                      "value error: linear: backward called before forward");
    CHECK_THROWS_WITH(nn::linear(0, 3, gen),
                      "value error: linear: in_features and out_features must be positive, got 0 and 3");
}

TEST_CASE("linear initialisation is PyTorch's: U(±1/√fan_in) for weight and bias, seeded", "[nn][init]") {
    nn::generator g1(42), g2(42), g3(43);
    nn::linear a(400, 50, g1), b(400, 50, g2), c(400, 50, g3);
    CHECK((a.weight.value == b.weight.value));
    CHECK((a.bias.value == b.bias.value));
    CHECK_FALSE((a.weight.value == c.weight.value));
    const float bound = 1.0f / 20.0f;  // 1/√400
    float lo = 1, hi = -1;
    double mean = 0, sq = 0;
    for (float v : a.weight.value) {
        lo = std::min(lo, v);
        hi = std::max(hi, v);
        mean += v;
        sq += double(v) * v;
    }
    const double n = double(a.weight.value.size());
    mean /= n;
    CHECK(lo >= -bound);
    CHECK(hi < bound);
    CHECK(lo < -0.99 * bound);  // the whole range is used
    CHECK(hi > 0.99 * bound);
    CHECK(std::abs(mean) < 0.002);
    // Variance of U(-b, b) is b²/3 (20000 samples: within a few percent).
    CHECK(sq / n == Approx(bound * bound / 3.0).epsilon(0.03));
    for (float v : a.bias.value) CHECK(std::abs(v) < bound);
}

TEST_CASE("kaiming_uniform uses gain √(2/(1+a²))", "[nn][init]") {
    nn::generator gen(5);
    xt::xtensor<float, 1> t = xt::zeros<float>({20000});
    nn::kaiming_uniform(t, 100, 0.0, gen);  // a = 0: bound √6/√100
    const float bound = std::sqrt(6.0f) / 10.0f;
    CHECK(xt::amax(t)() < bound);
    CHECK(xt::amin(t)() >= -bound);
    CHECK(xt::amax(t)() > 0.99f * bound);
    CHECK_THROWS_WITH(nn::kaiming_uniform(t, 0, 0.0, gen), "value error: kaiming_uniform: fan_in is 0");
}

TEST_CASE("generator is deterministic and below() is in range", "[nn][init]") {
    nn::generator a(9), b(9);
    for (int i = 0; i < 100; ++i) CHECK(a.next() == b.next());
    std::set<std::uint64_t> seen;
    for (int i = 0; i < 2000; ++i) {
        const auto v = a.below(7);
        CHECK(v < 7);
        seen.insert(v);
    }
    CHECK(seen.size() == 7);
    for (int i = 0; i < 1000; ++i) {
        const float u = a.uniform01();
        CHECK(u >= 0.0f);
        CHECK(u < 1.0f);
    }
}

TEST_CASE("relu forward and backward", "[nn][relu][grad]") {
    nn::relu r;
    tensor x = {{-1.f, 0.f, 2.f}, {3.f, -0.5f, 0.25f}};
    tensor y = r.forward(x, true);
    CHECK((y == tensor{{0.f, 0.f, 2.f}, {3.f, 0.f, 0.25f}}));
    tensor g = r.backward(tensor{{1.f, 1.f, 1.f}, {2.f, 2.f, 2.f}});
    CHECK((g == tensor{{0.f, 0.f, 1.f}, {2.f, 0.f, 2.f}}));  // 0 at x == 0, like PyTorch
    // Finite differences away from the kink.
    nn::generator gen(6);
    tensor z = random_tensor({3, 4, 5}, gen);
    for (auto& v : z) v = (v < 0 ? v - 0.1f : v + 0.1f);
    nn::relu r2;
    gradcheck(r2, z);
    CHECK_THROWS_WITH(r2.backward(tensor(xt::zeros<float>({2, 2}))),
                      "shape error: relu: gradient has shape [2, 2], the forward output had shape [3, 4, 5]");
}

TEST_CASE("flatten reshapes forward and back", "[nn][flatten][grad]") {
    nn::flatten f;
    nn::generator gen(7);
    tensor x = random_tensor({2, 3, 4, 5}, gen);
    tensor y = f.forward(x, true);
    REQUIRE(y.dimension() == 2);
    CHECK(y.shape()[0] == 2);
    CHECK(y.shape()[1] == 60);
    CHECK(y(1, 59) == x(1, 2, 3, 4));
    gradcheck(f, x);
}

TEST_CASE("sequential names parameters like PyTorch and chains gradients", "[nn][sequential][grad]") {
    nn::generator gen(8);
    nn::sequential m;
    auto& fc1 = m.add("fc1", nn::linear(6, 5, gen));
    m.add("relu1", nn::relu());
    m.add("", nn::linear(5, 4, gen));  // unnamed -> its index, like torch.nn.Sequential
    auto params = m.parameters();
    CHECK(params.names() == std::vector<std::string>{"fc1.weight", "fc1.bias", "2.weight", "2.bias"});
    CHECK(params.numel() == 30 + 5 + 20 + 4);
    CHECK(params["fc1.weight"].data() == fc1.weight.value.data());
    CHECK(params["fc1.weight"].shape() == std::vector<std::size_t>{5, 6});
    CHECK(&params["2.bias"].value<1>() == &m.get<nn::linear>("2").bias.value);
    CHECK_THROWS_AS(params["fc3.weight"], value_error);
    CHECK_THROWS_WITH(params["fc3.weight"],
                      "value error: no parameter named 'fc3.weight' (known: fc1.weight, fc1.bias, 2.weight, 2.bias)");
    CHECK_THROWS_WITH(params["fc1.weight"].value<4>(),
                      "shape error: parameter 'fc1.weight' has rank 2 (shape [5, 6]), asked for rank 4");
    CHECK_THROWS_WITH(m.add("fc1", nn::relu()), "value error: sequential::add: a layer is already named 'fc1'");
    CHECK_THROWS_WITH(m.add("a.b", nn::relu()), "value error: sequential::add: module name 'a.b' contains '.'");
    CHECK_THROWS_WITH(m.at("fc9"), "value error: sequential: no layer named 'fc9' (layers: fc1, relu1, 2)");
    CHECK_THROWS_AS(m.get<nn::linear>("relu1"), value_error);
    CHECK(m.describe() ==
          "Sequential(\n  (fc1): Linear(in_features=6, out_features=5, bias=True)\n  (relu1): ReLU()\n"
          "  (2): Linear(in_features=5, out_features=4, bias=True)\n)");

    tensor x = random_tensor({3, 6}, gen);
    nn_test::gradcheck_options o;
    gradcheck(m, x, o);
}

TEST_CASE("nested sequential gives dotted names and paths", "[nn][sequential]") {
    nn::generator gen(9);
    nn::sequential inner;
    inner.add("fc", nn::linear(3, 3, gen));
    nn::sequential outer;
    outer.add("block", std::move(inner));
    outer.add("head", nn::linear(3, 2, gen));
    CHECK(outer.parameters().names() ==
          std::vector<std::string>{"block.fc.weight", "block.fc.bias", "head.weight", "head.bias"});
    CHECK(outer.get<nn::linear>("block.fc").in_features() == 3);
    CHECK(outer.find("block.nothing") == nullptr);
}

TEST_CASE("clone is a deep copy", "[nn][sequential]") {
    nn::generator gen(10);
    nn::sequential m;
    m.add("fc1", nn::linear(3, 2, gen));
    nn::sequential c = m;
    c.get<nn::linear>("fc1").weight.value(0, 0) += 1.0f;
    CHECK(c.get<nn::linear>("fc1").weight.value(0, 0) == m.get<nn::linear>("fc1").weight.value(0, 0) + 1.0f);
    CHECK(c.parameters()["fc1.weight"].data() != m.parameters()["fc1.weight"].data());
}

TEST_CASE("weight transform: forward uses transform(w), backward maps the gradient", "[nn][qat]") {
    nn::generator gen(11);
    nn::linear fc(2, 1, gen, false);
    fc.weight.value = {{0.3f, -0.7f}};
    auto p = fc.parameters()["weight"];
    // A sign "quantizer" with a clipped straight-through gradient (zero where |w| > 0.5).
    p.set_transform([](const auto& w) { return xt::eval(xt::sign(w)); },
                    [](const auto& w, const auto& g) { return xt::eval(xt::where(xt::abs(w) <= 0.5f, g, 0.0f)); });
    CHECK(p.has_transform());
    tensor y = fc.forward(tensor{{2.f, 1.f}}, true);
    CHECK(y(0, 0) == 1.0f);  // sign(w)·x = 2 - 1
    tensor dx = fc.backward(tensor(xt::ones<float>({1, 1})));
    CHECK((dx == tensor{{1.f, -1.f}}));  // through the transformed weight
    CHECK((fc.weight.grad == xt::xtensor<float, 2>{{2.f, 0.f}}));
    // Without the gradient function: plain straight-through.
    p.set_transform([](const auto& w) { return xt::eval(xt::sign(w)); });
    fc.forward(tensor{{2.f, 1.f}}, true);
    fc.backward(tensor(xt::ones<float>({1, 1})));
    CHECK((fc.weight.grad == xt::xtensor<float, 2>{{2.f, 1.f}}));
    p.clear_transform();
    CHECK(fc.forward(tensor{{2.f, 1.f}}, true)(0, 0) == Approx(0.6f - 0.7f));
    // A transform that changes the shape is an error naming the parameter.
    p.set_transform([](const auto&) { return xt::xtensor<float, 2>(xt::zeros<float>({1, 3})); });
    CHECK_THROWS_WITH(fc.forward(tensor{{2.f, 1.f}}, true),
                      "shape error: the transform of parameter 'weight' returned shape [1, 3] for a value of shape [1, 2]");
}

TEST_CASE("fake_quant layer transforms activations, gradient straight through or custom", "[nn][qat]") {
    auto round_fn = [](const tensor& x, bool) { return tensor(xt::round(x)); };
    nn::fake_quant q(round_fn);
    tensor x = {{0.4f, 1.6f, -2.2f}};
    CHECK((q.forward(x, true) == tensor{{0.f, 2.f, -2.f}}));
    CHECK((q.backward(tensor{{1.f, 2.f, 3.f}}) == tensor{{1.f, 2.f, 3.f}}));
    nn::fake_quant clipped(round_fn, [](const tensor& in, const tensor& g) {
        return tensor(xt::where(xt::abs(in) <= 2.0f, g, 0.0f));
    });
    clipped.forward(x, true);
    CHECK((clipped.backward(tensor{{1.f, 2.f, 3.f}}) == tensor{{1.f, 2.f, 0.f}}));
    CHECK_THROWS_WITH(nn::fake_quant(nullptr), "value error: fake_quant: the forward function is empty");
}

TEST_CASE("forward hooks and the activation recorder", "[nn][hooks]") {
    nn::generator gen(12);
    nn::sequential m;
    m.add("fc1", nn::linear(4, 3, gen));
    m.add("relu1", nn::relu());
    m.add("fc2", nn::linear(3, 2, gen));
    int calls = 0;
    const auto id = m.at("fc1").add_forward_hook([&](const nn::module& mod, const tensor& y, bool) {
        CHECK(mod.name() == "fc1");
        CHECK(y.shape()[1] == 3);
        ++calls;
    });
    tensor a = random_tensor({5, 4}, gen), b = random_tensor({3, 4}, gen);
    m.forward(a, false);
    CHECK(calls == 1);
    m.at("fc1").remove_forward_hook(id);
    m.forward(a, false);
    CHECK(calls == 1);
    {
        nn::activation_recorder rec(m, {"relu1"}, 7);
        m.forward(a, false);
        m.forward(a, true);  // training forwards are not recorded by default
        m.forward(b, false);
        CHECK(rec.rows("relu1") == 7);  // 5 + 2 of 3 (capped)
        tensor acts = rec.get("relu1");
        REQUIRE(acts.shape()[0] == 7);
        // Rows equal relu(fc1(x)) computed directly.
        nn::sequential ref;
        ref.add("fc1", nn::linear(m.get<nn::linear>("fc1")));
        ref.add("relu1", nn::relu());
        tensor direct = ref.forward(b, false);
        for (std::size_t j = 0; j < 3; ++j) {
            CHECK(acts(5, j) == direct(0, j));
            CHECK(acts(6, j) == direct(1, j));
        }
        CHECK_THROWS_WITH(rec.get("fc2"), "value error: activation_recorder: layer 'fc2' is not recorded");
        rec.clear();
        CHECK(rec.rows("relu1") == 0);
    }
    m.forward(a, false);  // the recorder's hooks are gone
    CHECK_THROWS_AS(nn::activation_recorder(m, {"nope"}), value_error);
}
