// Property tests of quantization over random shapes, granularities and seeds (issue 10):
// dequantize(quantize(w)) stays within the bound each format promises (derived here from the
// format, not from the implementation), exact zeros stay exact, the packed parts rebuild an
// identical tensor (packed/unpacked round trip), and packed masks round-trip.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include <compress/quantize.hpp>

using namespace compress;

namespace {

template <std::size_t N>
std::array<std::size_t, N> random_shape(std::mt19937& rng, std::size_t max_extent) {
    std::uniform_int_distribution<std::size_t> d(1, max_extent);
    std::array<std::size_t, N> s{};
    for (auto& e : s) e = d(rng);
    return s;
}

/// Weights with a random scale and offset, exact zeros, and an occasional outlier.
template <std::size_t N>
xt::xtensor<float, N> random_weights(const std::array<std::size_t, N>& shape, std::mt19937& rng) {
    auto w = xt::xtensor<float, N>::from_shape(shape);
    std::normal_distribution<float> nd(0.0f, 1.0f);
    const float scale = std::exp(std::uniform_real_distribution<float>(-6.0f, 4.0f)(rng));
    const float shift = std::uniform_real_distribution<float>(-1.0f, 1.0f)(rng);
    std::uniform_int_distribution<int> pick(0, 19);
    for (auto& v : w) {
        const int p = pick(rng);
        v = p == 0 ? 0.0f : scale * (nd(rng) + shift) * (p == 1 ? 20.0f : 1.0f);
    }
    return w;
}

/// Rebuilds q from its stored parts and checks the copy is identical (packed/unpacked round trip).
template <class Q>
void check_parts_round_trip(const Q& q) {
    std::vector<typename Q::scale_type> sc(q.scales(), q.scales() + q.num_scales());
    std::vector<typename Q::zero_point_type> zp(q.zero_points(), q.zero_points() + q.num_zero_points());
    const Q back = Q::from_parts(q.shape(), q.codes(), q.code_bytes(), sc, zp);
    CHECK(back == q);
    CHECK((back.dequantize() == q.dequantize()));
}

/// Integer formats: |w − dq| ≤ scale/2 (symmetric: the range ±amax is representable; the
/// largest |w| may land on the clamped half step) or ≤ scale (affine: the grid's ends may sit
/// half a step inside the range, then clamp), up to float rounding.
template <class F, class M, class G, std::size_t N>
void check_integer(const xt::xtensor<float, N>& w) {
    INFO(F::name() << " " << M::name() << " " << G::name() << " shape " << detail::shape_str(w.shape()));
    const auto q = quantizer<F, M, G>{}.quantize(w);
    const auto d = q.dequantize();
    REQUIRE(d.shape() == w.shape());
    const float factor = M::is_affine ? 1.0f : 0.5f;
    std::size_t bad = 0, bad_zero = 0;
    for (std::size_t r = 0; r < q.rows(); ++r) {
        for (std::size_t c = 0; c < q.cols(); ++c) {
            const std::size_t i = r * q.cols() + c;
            const float s = q.scale(q.scale_index(r, c));
            const float err = std::fabs(d.data()[i] - w.data()[i]);
            // plus float rounding: the stored scale is amax/127.5 rounded (relative 2^-24), and
            // a code of magnitude <= 128 multiplies that error; the subtraction rounds once more
            const float tol = factor * s + 130.0f * s * 0x1p-23f + std::fabs(w.data()[i]) * 0x1p-23f;
            if (!(err <= tol)) {
                ++bad;
                UNSCOPED_INFO("w=" << w.data()[i] << " dq=" << d.data()[i] << " scale=" << s << " err/scale=" << err / s
                                   << " code=" << q.code(r, c));
            }
            if (w.data()[i] == 0.0f) bad_zero += d.data()[i] != 0.0f;
        }
    }
    CHECK(bad == 0);
    CHECK(bad_zero == 0);
    check_parts_round_trip(q);
}

/// Casts: relative error ≤ half an ulp (2^-(mantissa+1)) for normal results.
template <class F, std::size_t N>
void check_cast(const xt::xtensor<float, N>& w, int mantissa_bits, float min_normal) {
    const auto q = quantizer<F, symmetric, per_tensor>{}.quantize(w);
    const auto d = q.dequantize();
    const float rel = std::ldexp(1.0f, -(mantissa_bits + 1));
    std::size_t bad = 0;
    for (std::size_t i = 0; i < w.size(); ++i) {
        const float a = std::fabs(w.data()[i]);
        const float err = std::fabs(d.data()[i] - w.data()[i]);
        // below the normal range the absolute error is at most half the smallest subnormal step
        const float bound = a >= min_normal ? rel * a : std::ldexp(min_normal, -mantissa_bits - 1);
        bad += !(err <= bound * (1.0f + 1e-6f));
    }
    CHECK(bad == 0);
    check_parts_round_trip(q);
}

}  // namespace

TEST_CASE("properties: integer formats stay within their error bound on random shapes", "[properties][quantize]") {
    std::mt19937 rng(2001);
    for (int i = 0; i < 12; ++i) {
        const auto w2 = random_weights<2>(random_shape<2>(rng, 70), rng);
        check_integer<int8, symmetric, per_tensor>(w2);
        check_integer<int8, symmetric, per_channel<0>>(w2);
        check_integer<int8, affine, per_tensor>(w2);
        check_integer<int8, affine, per_channel<1>>(w2);
        check_integer<uint8, affine, per_channel<0>>(w2);
        check_integer<int4, symmetric, per_group<32>>(w2);
        check_integer<int4, affine, per_group<8>>(w2);
        check_integer<uint4, affine, per_channel<0>>(w2);
        check_integer<int2, symmetric, per_channel<0>>(w2);
        const auto w4 = random_weights<4>(random_shape<4>(rng, 5), rng);
        check_integer<int8, symmetric, per_channel<0>>(w4);
        check_integer<int4, symmetric, per_group<16>>(w4);
        check_integer<int8, affine, per_channel<3>>(w4);
        const auto w1 = random_weights<1>(random_shape<1>(rng, 200), rng);
        check_integer<int8, symmetric, per_tensor>(w1);
        check_integer<int4, affine, per_group<32>>(w1);
    }
}

TEST_CASE("properties: fp16 / bf16 casts are within half an ulp", "[properties][quantize]") {
    std::mt19937 rng(2002);
    for (int i = 0; i < 10; ++i) {
        const auto w = random_weights<2>(random_shape<2>(rng, 40), rng);
        check_cast<fp16>(w, 10, std::ldexp(1.0f, -14));
        check_cast<bf16>(w, 7, std::ldexp(1.0f, -126));
    }
}

TEST_CASE("properties: fp8 e4m3 with per-channel scales is within half an ulp of the scaled value",
          "[properties][quantize]") {
    std::mt19937 rng(2003);
    for (int i = 0; i < 10; ++i) {
        const auto w = random_weights<2>(random_shape<2>(rng, 40), rng);
        const auto q = quantizer<fp8_e4m3, symmetric, per_channel<0>>{}.quantize(w);
        const auto d = q.dequantize();
        std::size_t bad = 0;
        for (std::size_t r = 0; r < q.rows(); ++r) {
            const float s = q.scale(r);
            for (std::size_t c = 0; c < q.cols(); ++c) {
                const std::size_t k = r * q.cols() + c;
                const float a = std::fabs(w.data()[k]);
                // e4m3: 3 mantissa bits (half ulp 2^-4 relative); subnormal step 2^-9 (x scale)
                const float bound = std::max(a * 0.0625f, s * std::ldexp(1.0f, -10));
                bad += !(std::fabs(d.data()[k] - w.data()[k]) <= bound * (1.0f + 1e-5f));
            }
        }
        CHECK(bad == 0);
        check_parts_round_trip(q);
    }
}

TEST_CASE("properties: binary keeps the sign and alpha = mean |w| of the channel", "[properties][quantize]") {
    std::mt19937 rng(2004);
    for (int i = 0; i < 15; ++i) {
        const auto w = random_weights<2>(random_shape<2>(rng, 150), rng);
        const auto q = quantizer<binary, symmetric, per_channel<0>>{}.quantize(w);
        const auto d = q.dequantize();
        const std::size_t R = w.shape()[0], C = w.shape()[1];
        for (std::size_t r = 0; r < R; ++r) {
            double mean = 0.0;
            for (std::size_t c = 0; c < C; ++c) mean += std::fabs(double(w(r, c)));
            mean /= double(C);
            std::size_t bad = 0;
            for (std::size_t c = 0; c < C; ++c) {
                const float expect = w(r, c) >= 0.0f ? float(mean) : -float(mean);
                bad += !(std::fabs(d(r, c) - expect) <= 1e-5f * float(mean) + 1e-30f);
            }
            CHECK(bad == 0);
        }
        check_parts_round_trip(q);
    }
}

TEST_CASE("properties: packed masks round-trip for random shapes and densities", "[properties][mask]") {
    std::mt19937 rng(2005);
    for (int i = 0; i < 40; ++i) {
        const auto shape = random_shape<3>(rng, 9);
        mask<3> m(shape);
        const double density = std::uniform_real_distribution<double>(0.0, 1.0)(rng);
        std::bernoulli_distribution keep(density);
        std::size_t kept = 0;
        for (std::size_t j = 0; j < m.size(); ++j) {
            const bool k = keep(rng);
            m.set(j, k);
            kept += k;
        }
        CHECK(m.kept() == kept);
        const auto p = m.pack();
        CHECK(p.words.size() == (m.size() + 63) / 64);
        const auto back = mask<3>::unpack(p);
        CHECK(back == m);
        for (std::size_t j = 0; j < m.size(); ++j) CHECK(((p.words[j / 64] >> (j % 64)) & 1u) == (m[j] ? 1u : 0u));
    }
}
