// The training substrate against PyTorch 1.13 (tests/golden/golden_nn.py): a small CNN using
// every layer (conv2d with padding and stride, batch_norm 2-d and 1-d, relu, max_pool2d,
// flatten, linear) in training mode (outputs, input gradient, parameter gradients, running
// statistics), in eval mode, and two SGD (Nesterov, weight decay) and Adam steps.
#include <catch2/catch.hpp>

#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include <compress/nn.hpp>

using namespace compress;
using nn::tensor;

namespace {

std::map<std::string, tensor> read_golden(const std::string& path) {
    std::ifstream f(path);
    REQUIRE(f.good());
    std::map<std::string, tensor> out;
    std::string line;
    while (std::getline(f, line)) {
        std::istringstream is(line);
        std::string name, dims;
        is >> name >> dims;
        std::vector<std::size_t> shape;
        std::istringstream ds(dims);
        std::string d;
        while (std::getline(ds, d, 'x')) shape.push_back(std::stoul(d));
        tensor t = tensor::from_shape(shape);
        for (auto& v : t) is >> v;
        REQUIRE_FALSE(is.fail());
        out[name] = std::move(t);
    }
    return out;
}

nn::sequential golden_model() {
    nn::generator gen(0);  // overwritten from the golden file
    nn::sequential m;
    m.add("conv1", nn::conv2d(2, 4, 3, gen, {1, 1, true}));
    m.add("bn1", nn::batch_norm(4));
    m.add("relu1", nn::relu());
    m.add("pool1", nn::max_pool2d(2));
    m.add("conv2", nn::conv2d(4, 3, 3, gen, {2, 1, true}));
    m.add("relu2", nn::relu());
    m.add("flatten", nn::flatten());
    m.add("fc1", nn::linear(12, 6, gen));
    m.add("bn2", nn::batch_norm(6));
    m.add("relu3", nn::relu());
    m.add("fc2", nn::linear(6, 5, gen));
    return m;
}

void check_close(const float* got, const tensor& want, const std::string& what, double tol) {
    for (std::size_t i = 0; i < want.size(); ++i) {
        INFO(what << "[" << i << "]: got " << got[i] << ", PyTorch " << want.data()[i]);
        CHECK(std::abs(double(got[i]) - want.data()[i]) <= tol * (1.0 + std::abs(double(want.data()[i]))));
    }
}

}  // namespace

TEST_CASE("a CNN with every layer matches PyTorch: forward, backward, running stats, eval, SGD, Adam", "[nn][golden]") {
    const auto g = read_golden(std::string(COMPRESS_GOLDEN_DIR) + "/nn/torch_cnn.txt");
    nn::sequential m = golden_model();
    auto state = m.state();
    CHECK(state.size() == 16);
    for (const auto& p : state) {
        const tensor& v = g.at("init." + p.name());
        REQUIRE(v.size() == p.size());
        REQUIRE(std::vector<std::size_t>(v.shape().begin(), v.shape().end()) == p.shape());
        std::copy(v.begin(), v.end(), p.data());
    }
    tensor y = m.forward(g.at("x"), true);
    check_close(y.data(), g.at("train.y"), "train.y", 1e-5);
    tensor dx = m.backward(g.at("r"));
    check_close(dx.data(), g.at("train.dx"), "train.dx", 1e-5);
    auto params = m.parameters();
    for (const auto& p : params) check_close(p.grad_data(), g.at("grad." + p.name()), "grad." + p.name(), 1e-5);
    for (const auto& b : m.buffers()) check_close(b.data(), g.at("after." + b.name()), b.name(), 1e-6);
    tensor e = m.forward(g.at("x"), false);
    check_close(e.data(), g.at("eval.y"), "eval.y", 1e-5);

    for (const std::string tag : {"sgd", "adam"}) {
        nn::sequential c = golden_model();
        auto cp = c.parameters();
        for (const auto& p : cp) {
            std::copy(g.at("init." + p.name()).begin(), g.at("init." + p.name()).end(), p.data());
            std::copy(g.at("grad." + p.name()).begin(), g.at("grad." + p.name()).end(), p.grad_data());
        }
        if (tag == "sgd") {
            nn::sgd opt(cp, {0.1, 0.9, 0.0, 0.01, true});
            opt.step();
            opt.step();
        } else {
            nn::adam opt(cp, {0.01, 0.9, 0.999, 1e-8, 0.01});
            opt.step();
            opt.step();
        }
        for (const auto& p : cp) check_close(p.data(), g.at(tag + "." + p.name()), tag + "." + p.name(), 2e-6);
    }
}
