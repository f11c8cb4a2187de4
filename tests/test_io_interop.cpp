// Interop with PyTorch: a small MLP's weights written by python3-torch as safetensors (by hand,
// see tests/golden/golden_io.py), inputs and PyTorch's logits as .npy. Loading them and
// running the same network here gives PyTorch's logits.
#include <catch2/catch.hpp>

#include <cmath>
#include <string>

#include <compress/io.hpp>

// The whole file in its own namespace: it is compiled in one unity TU with the other files of its
// test program (tests/CMakeLists.txt), and its helpers have the same names as theirs.
namespace test_io_interop {

using namespace compress;

namespace {
const std::string golden = std::string(COMPRESS_GOLDEN_DIR) + "/io/";

// y = x · Wᵀ + b (PyTorch layout), accumulated in double.
xt::xtensor<float, 2> linear(const xt::xtensor<float, 2>& x, const xt::xtensor<float, 2>& w,
                             const xt::xtensor<float, 1>& b, bool relu) {
    REQUIRE(x.shape()[1] == w.shape()[1]);
    REQUIRE(b.size() == w.shape()[0]);
    xt::xtensor<float, 2> y = xt::xtensor<float, 2>::from_shape({x.shape()[0], w.shape()[0]});
    for (std::size_t i = 0; i < x.shape()[0]; ++i) {
        for (std::size_t o = 0; o < w.shape()[0]; ++o) {
            double acc = b(o);
            for (std::size_t k = 0; k < w.shape()[1]; ++k) acc += static_cast<double>(x(i, k)) * w(o, k);
            const auto v = static_cast<float>(acc);
            y(i, o) = relu && v < 0.0f ? 0.0f : v;
        }
    }
    return y;
}
}  // namespace

TEST_CASE("interop: PyTorch MLP weights (safetensors) and inputs (.npy) give PyTorch's logits", "[io][interop]") {
    const auto f = io::load_safetensors(golden + "mlp.safetensors");
    CHECK(f.metadata().at("format") == "pt");
    REQUIRE(f.size() == 6);
    const auto x = io::load_npy<float, 2>(golden + "mlp_input.npy");
    const auto expected = io::load_npy<float, 2>(golden + "mlp_logits.npy");
    REQUIRE(x.shape()[0] == 5);
    REQUIRE(x.shape()[1] == 8);
    CHECK(f.info("net.0.weight").shape == io::shape_type{16, 8});
    CHECK(f.info("net.4.weight").shape == io::shape_type{4, 12});

    auto h = linear(x, f.get<float, 2>("net.0.weight"), f.get<float, 1>("net.0.bias"), true);
    h = linear(h, f.get<float, 2>("net.2.weight"), f.get<float, 1>("net.2.bias"), true);
    const auto logits = linear(h, f.get<float, 2>("net.4.weight"), f.get<float, 1>("net.4.bias"), false);
    REQUIRE(logits.shape() == expected.shape());
    for (std::size_t i = 0; i < logits.size(); ++i) {
        CHECK(logits.data()[i] == Approx(expected.data()[i]).margin(1e-5).epsilon(1e-5));
    }
    // The argmax (the prediction) is the same for every input.
    for (std::size_t i = 0; i < 5; ++i) {
        std::size_t a = 0, b = 0;
        for (std::size_t o = 1; o < 4; ++o) {
            if (logits(i, o) > logits(i, a)) a = o;
            if (expected(i, o) > expected(i, b)) b = o;
        }
        CHECK(a == b);
    }
}

}  // namespace test_io_interop
