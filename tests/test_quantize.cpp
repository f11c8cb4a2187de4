// quantizer properties on random tensors of many shapes, for every format, mapping and
// granularity: error bound, idempotence, exact zero, packed round trip, bytes(), and codes
// equal to an independent scalar reference computed from the stored parameters.
#include <catch2/catch.hpp>

#include <cmath>
#include <random>
#include <vector>

#include <compress/quantize.hpp>

using namespace compress;

#include "quantize_test_util.hpp"

using namespace qtest;

namespace {

template <class F, class M, class G, std::size_t N>
void check_integer_scheme(const std::array<std::size_t, N>& shape, unsigned seed) {
    INFO(F::name() << " " << M::name() << " " << G::name() << " seed " << seed);
    const auto w = random_tensor<N>(shape, seed);
    quantizer<F, M, G> qz;
    const auto q = qz.quantize(w);
    check_storage(q, shape);
    const auto d = q.dequantize();
    std::size_t bad_ref = 0, bad_bound = 0, bad_zero = 0;
    for (std::size_t r = 0; r < q.rows(); ++r) {
        for (std::size_t c = 0; c < q.cols(); ++c) {
            const std::size_t i = r * q.cols() + c;
            const std::size_t s = q.scale_index(r, c);
            const float scale = q.scale(s);
            const int zp = q.zero_point(s);
            // independent reference: PyTorch's formula clamp(zp + round_half_even(w * (1/scale)))
            const float inv = 1.0f / scale;
            const double rv = std::nearbyint(static_cast<double>(w.data()[i] * inv)) + zp;
            const int ref = static_cast<int>(std::min<double>(std::max<double>(rv, F::qmin), F::qmax));
            bad_ref += q.code(r, c) != ref;
            // inside the representable range the error is at most scale/2
            const float v = w.data()[i] * inv + static_cast<float>(zp);
            if (v >= F::qmin && v <= F::qmax) {
                bad_bound += std::fabs(d.data()[i] - w.data()[i]) > 0.5f * scale * (1.0f + 1e-5f) + 1e-30f;
            }
            if (w.data()[i] == 0.0f) bad_zero += d.data()[i] != 0.0f;
        }
    }
    CHECK(bad_ref == 0);
    CHECK(bad_bound == 0);
    CHECK(bad_zero == 0);
    // idempotence with the same parameters: quantize(dequantize(q)) = q
    quantizer<F, M, G> fixed;
    fixed.observe(w);
    fixed.freeze();
    const auto q1 = fixed.quantize(w);
    CHECK(q1 == q);
    CHECK(fixed.quantize(q1.dequantize()) == q1);
    // fake_quantize equals dequantize(quantize)
    const auto fq = fixed.fake_quantize(w);
    CHECK((fq == d));
}

template <class F, class M>
void integer_schemes(unsigned seed) {
    check_integer_scheme<F, M, per_tensor, 2>({5, 33}, seed);
    check_integer_scheme<F, M, per_channel<0>, 4>({4, 3, 3, 3}, seed + 1);
    check_integer_scheme<F, M, per_group<32>, 2>({3, 100}, seed + 2);
}

}  // namespace

TEST_CASE("int8: error bound, reference codes, idempotence, exact zero, storage; many shapes", "[quantize]") {
    integer_schemes<int8, symmetric>(10);
    integer_schemes<int8, affine>(20);
    check_integer_scheme<int8, affine, per_channel<1>, 2>({6, 9}, 21);
    check_integer_scheme<int8, symmetric, per_channel<0>, 2>({8, 64}, 22);
    check_integer_scheme<int8, symmetric, per_channel<0>, 2>({1, 1}, 23);
    check_integer_scheme<int8, affine, per_group<8>, 1>({37}, 24);
    check_integer_scheme<int8, symmetric, per_tensor, 3>({2, 3, 5}, 25);
    for (unsigned seed = 100; seed < 110; ++seed) {
        const std::size_t r = 1 + seed % 5, c = 1 + (seed * 37) % 130;
        check_integer_scheme<int8, affine, per_channel<0>, 2>({r, c}, seed);
        check_integer_scheme<int8, symmetric, per_group<32>, 2>({r, c}, seed);
    }
}

TEST_CASE("uint8, int4, uint4, int2: the same properties on bytes, nibbles and crumbs", "[quantize]") {
    integer_schemes<uint8, symmetric>(30);
    integer_schemes<uint8, affine>(40);
    integer_schemes<int4, symmetric>(50);
    integer_schemes<int4, affine>(60);
    integer_schemes<uint4, affine>(70);
    check_integer_scheme<uint4, symmetric, per_channel<0>, 2>({3, 7}, 75);
    integer_schemes<int2, symmetric>(80);
    integer_schemes<int2, affine>(90);
    for (unsigned seed = 200; seed < 206; ++seed) {
        const std::size_t r = 1 + seed % 4, c = 1 + (seed * 53) % 99;
        check_integer_scheme<int4, symmetric, per_group<32>, 2>({r, c}, seed);
    }
}

