// quantizer properties for binary, ternary, pow2, fp8, fp16 scales and stochastic rounding.
#include <catch2/catch.hpp>

#include <cmath>
#include <random>
#include <vector>

#include <compress/quantize.hpp>

#include "quantize_test_util.hpp"

using namespace compress;
using namespace qtest;

TEST_CASE("binary: sign bits and alpha = mean|w| per channel (XNOR-Net)", "[quantize]") {
    for (unsigned seed : {1u, 2u, 3u}) {
        const auto w = random_tensor<2>({5, 70 + seed}, seed);
        const auto q = quantizer<binary, symmetric, per_channel<0>>{}.quantize(w);
        check_storage(q, std::array<std::size_t, 2>{5, 70 + seed});
        for (std::size_t r = 0; r < 5; ++r) {
            double a = 0.0;
            for (std::size_t c = 0; c < w.shape()[1]; ++c) a += std::fabs(w(r, c));
            CHECK(q.scale(r) == Approx(a / w.shape()[1]).epsilon(1e-6));
            for (std::size_t c = 0; c < w.shape()[1]; ++c) {
                CHECK(q.code(r, c) == (w(r, c) >= 0.0f ? 1 : -1));
                CHECK(q.value(r, c) == (w(r, c) >= 0.0f ? q.scale(r) : -q.scale(r)));
            }
        }
        // re-quantizing the dequantized tensor reproduces it
        CHECK(quantizer<binary, symmetric, per_channel<0>>{}.quantize(q.dequantize()) == q);
    }
}

TEST_CASE("ternary: TWN threshold 0.7 mean|w| and alpha = mean of |w| above it", "[quantize]") {
    for (unsigned seed : {4u, 5u}) {
        const auto w = random_tensor<2>({4, 130}, seed);
        const auto q = quantizer<ternary, symmetric, per_channel<0>>{}.quantize(w);
        check_storage(q, std::array<std::size_t, 2>{4, 130});
        for (std::size_t r = 0; r < 4; ++r) {
            double m = 0.0;
            for (std::size_t c = 0; c < 130; ++c) m += std::fabs(w(r, c));
            const double delta = 0.7 * m / 130;
            double above = 0.0;
            int n = 0;
            for (std::size_t c = 0; c < 130; ++c) {
                const double a = std::fabs(w(r, c));
                const int want = a > delta ? (w(r, c) < 0 ? -1 : 1) : 0;
                CHECK(q.code(r, c) == want);
                if (a > delta) {
                    above += a;
                    ++n;
                }
            }
            CHECK(q.scale(r) == Approx(above / n).epsilon(1e-6));
        }
        CHECK(quantizer<ternary, symmetric, per_channel<0>>{}.quantize(q.dequantize()) == q);
        const auto d = q.dequantize();
        for (std::size_t i = 0; i < w.size(); ++i)
            if (w.data()[i] == 0.0f) CHECK(d.data()[i] == 0.0f);
    }
}

TEST_CASE("pow2: levels are 0 and +-alpha 2^-k, nearest level, exact zero", "[quantize]") {
    const auto w = random_tensor<2>({6, 50}, 9);
    const auto q = quantizer<pow2<4>, symmetric, per_channel<0>>{}.quantize(w);
    check_storage(q, std::array<std::size_t, 2>{6, 50});
    const auto d = q.dequantize();
    for (std::size_t r = 0; r < 6; ++r) {
        const float alpha = q.scale(r);
        float amax = 0.0f;
        for (std::size_t c = 0; c < 50; ++c) amax = std::max(amax, std::fabs(w(r, c)));
        CHECK(alpha == amax);
        // levels of pow2<4>: 0 and alpha * 2^-k for k = 0..6; the nearest one is chosen
        for (std::size_t c = 0; c < 50; ++c) {
            const float x = w(r, c);
            float best = 0.0f;
            for (int k = 0; k <= 6; ++k) {
                const float l = std::ldexp(alpha, -k);
                if (std::fabs(std::fabs(x) - l) < std::fabs(std::fabs(x) - best)) best = l;
            }
            CHECK(std::fabs(d(r, c)) == best);
            if (best != 0.0f) CHECK(std::signbit(d(r, c)) == std::signbit(x));
        }
    }
    CHECK(quantizer<pow2<4>, symmetric, per_channel<0>>{}.quantize(d) == q);
    // pow2<3> is stored in nibbles, pow2<2> in crumbs, pow2<6> in bytes
    CHECK(quantizer<pow2<3>>{}.quantize(w).row_stride() == 25);
    CHECK(quantizer<pow2<2>>{}.quantize(w).row_stride() == 13);
    CHECK(quantizer<pow2<6>>{}.quantize(w).row_stride() == 50);
}

TEST_CASE("fp8 formats: scaled to the block's amax, round to nearest even", "[quantize]") {
    const auto w = random_tensor<2>({4, 40}, 12);
    const auto q = quantizer<fp8_e4m3, symmetric, per_channel<0>>{}.quantize(w);
    check_storage(q, std::array<std::size_t, 2>{4, 40});
    for (std::size_t r = 0; r < 4; ++r) {
        float amax = 0.0f;
        for (std::size_t c = 0; c < 40; ++c) amax = std::max(amax, std::fabs(w(r, c)));
        CHECK(q.scale(r) == amax / 448.0f);
        for (std::size_t c = 0; c < 40; ++c) {
            const float inv = 1.0f / q.scale(r);
            CHECK(q.code(r, c) == detail::float_to_fp8_e4m3(w(r, c) * inv));
            // relative error of e4m3 (3 mantissa bits) is at most 2^-4 for normal values
            if (std::fabs(w(r, c) * inv) >= std::ldexp(1.0f, -6)) {
                CHECK(std::fabs(q.value(r, c) - w(r, c)) <= std::fabs(w(r, c)) * 0.0625f * 1.0001f);
            }
        }
    }
    const auto q5 = quantizer<fp8_e5m2, symmetric, per_tensor>{}.quantize(w);
    float amax = 0.0f;
    for (float v : w) amax = std::max(amax, std::fabs(v));
    CHECK(q5.scale(0) == amax / 57344.0f);
    CHECK(q5.bytes() == 160 + 4);
}

TEST_CASE("fp16 scales: int4 per_group<32> costs 4.5 bits per weight", "[quantize]") {
    const auto w = random_tensor<2>({16, 256}, 13);
    using q40 = quantizer<int4, symmetric, per_group<32>, minmax, nearest_even, fp16>;
    const auto q = q40{}.quantize(w);
    CHECK(q.bytes() == 16 * 128 + 16 * 8 * 2);
    CHECK(q.bits_per_weight() == 4.5);
    // every scale is an fp16 value, and codes follow that rounded scale
    for (std::size_t s = 0; s < q.num_scales(); ++s) {
        CHECK(detail::fp16_to_float(detail::float_to_fp16(q.scale(s))) == q.scale(s));
    }
    const auto d = q.dequantize();
    for (std::size_t r = 0; r < 16; ++r)
        for (std::size_t c = 0; c < 256; ++c) {
            const float s = q.scale(q.scale_index(r, c));
            if (std::fabs(w(r, c)) <= 7.0f * s) CHECK(std::fabs(d(r, c) - w(r, c)) <= 0.5f * s * 1.0001f);
        }
}

TEST_CASE("stochastic rounding: seeded, reproducible, unbiased, between floor and ceil", "[quantize]") {
    xt::xtensor<float, 2> w = xt::xtensor<float, 2>::from_shape({1, 20000});
    std::mt19937 rng(1);
    std::uniform_real_distribution<float> ud(-1.2f, 1.2f);
    for (auto& v : w) v = ud(rng);
    w(0, 0) = 127.5f * 0.01f;  // amax -> scale 0.01
    w(0, 1) = -1.275f;
    using S = quantizer<int8, symmetric, per_tensor, minmax, stochastic>;
    const auto a = S{minmax{}, stochastic{42}}.quantize(w);
    const auto b = S{minmax{}, stochastic{42}}.quantize(w);
    const auto c = S{minmax{}, stochastic{43}}.quantize(w);
    CHECK(a == b);
    CHECK(a != c);
    const float inv = 1.0f / a.scale(0);
    double mean_err = 0.0;
    int n = 0;
    for (std::size_t k = 2; k < w.size(); ++k) {
        const float v = w(0, k) * inv;
        const int code = a.code(0, k);
        CHECK((code == static_cast<int>(std::floor(v)) || code == static_cast<int>(std::floor(v)) + 1));
        mean_err += code - static_cast<double>(v);
        ++n;
    }
    CHECK(std::fabs(mean_err / n) < 0.02);
    // a value halfway between two codes goes up about half of the time
    xt::xtensor<float, 2> h = xt::xtensor<float, 2>::from_shape({1, 10000});
    for (auto& v : h) v = 0.505f;
    h(0, 0) = 1.275f;  // scale 0.01: 0.505 -> 50.5
    const auto qh = S{minmax{}, stochastic{7}}.quantize(h);
    int up = 0;
    for (std::size_t k = 1; k < h.size(); ++k) up += qh.code(0, k) == 51;
    CHECK(up > 4700);
    CHECK(up < 5300);
}
