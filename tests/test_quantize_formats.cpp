// quantizer properties for binary, ternary, pow2, fp8, fp16 scales and stochastic rounding.
#include <catch2/catch.hpp>

#include <cmath>
#include <random>
#include <type_traits>
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

TEST_CASE("fp8 inside the quantizer: round to nearest even on exact ties, saturation beyond the calibrated range", "[quantize]") {
    // calibrating on [-448, 448] gives scale 1 exactly (amax / 448), so codes are the plain fp8 values
    quantizer<fp8_e4m3> q4;
    q4.observe(xt::xtensor<float, 1>{-448.0f, 448.0f});
    q4.freeze();
    REQUIRE(q4.calibrated_params()[0].scale == 1.0f);
    // e4m3: 3 mantissa bits, spacing 1/8 in [1, 2); subnormals m·2^-9
    const xt::xtensor<float, 1> x4 = {1.0625f,  1.1875f,          500.0f, -1000.0f, 0.0f,
                                      0x1p-10f, 3.0f * 0x1p-10f, -448.0f, 464.0f};
    const auto d4 = q4.quantize(x4).dequantize();
    CHECK(d4(0) == 1.0f);      // tie between 1 (mantissa 000) and 1.125 (001): even -> 1
    CHECK(d4(1) == 1.25f);     // tie between 1.125 (001) and 1.25 (010): even -> 1.25
    CHECK(d4(2) == 448.0f);    // beyond the largest finite value: saturates
    CHECK(d4(3) == -448.0f);
    CHECK(d4(4) == 0.0f);
    CHECK(d4(5) == 0.0f);      // half of the smallest subnormal 2^-9: tie, even -> 0
    CHECK(d4(6) == 0x1p-8f);   // 1.5 · 2^-9: tie between 2^-9 (m = 1) and 2^-8 (m = 2): even -> 2^-8
    CHECK(d4(7) == -448.0f);
    CHECK(d4(8) == 448.0f);    // 464 ties 448 (mantissa 110, even) and 480 (e4m3fn's NaN code): 448
    // the straight-through mask blocks the gradient where the value saturated
    q4.fake_quantize(x4);
    const auto m = q4.ste_mask(x4);
    CHECK(m.data()[0] == 1);
    CHECK(m.data()[2] == 0);
    CHECK(m.data()[3] == 0);
    CHECK(m.data()[7] == 1);

    quantizer<fp8_e5m2> q5;
    q5.observe(xt::xtensor<float, 1>{57344.0f});
    q5.freeze();
    REQUIRE(q5.calibrated_params()[0].scale == 1.0f);
    // e5m2: 2 mantissa bits, spacing 1/4 in [1, 2); subnormals m·2^-16
    const xt::xtensor<float, 1> x5 = {1.125f, 1.375f, 1e5f, -1e6f, 0x1p-17f, 3.0f * 0x1p-17f, 0.1f};
    const auto d5 = q5.quantize(x5).dequantize();
    CHECK(d5(0) == 1.0f);
    CHECK(d5(1) == 1.5f);
    CHECK(d5(2) == 57344.0f);
    CHECK(d5(3) == -57344.0f);
    CHECK(d5(4) == 0.0f);
    CHECK(d5(5) == 0x1p-15f);
    CHECK(d5(6) == 0.09375f);  // 0.1 = 1.6·2^-4: nearest of 1.5·2^-4 and 1.75·2^-4 is 1.5·2^-4
}

TEST_CASE("pow2<2> and pow2<8>: the extreme level sets; pow2 stochastic rounding is unbiased", "[quantize]") {
    // pow2<2>: {0, ±α}; |x| < α/2 -> 0, |x| >= α/2 -> α (ties to the larger level)
    const xt::xtensor<float, 2> w = {{2.0f, 0.99f, 1.0f, -1.01f, -0.2f, 0.0f}};
    const auto q2 = quantizer<pow2<2>>{}.quantize(w);
    CHECK(q2.scale(0) == 2.0f);
    const auto d2 = q2.dequantize();
    CHECK((d2 == xt::xtensor<float, 2>{{2.0f, 0.0f, 2.0f, -2.0f, 0.0f, 0.0f}}));
    CHECK(q2.row_stride() == 2);  // crumbs
    // pow2<8>: K = 127 magnitudes down to α·2^-126
    const xt::xtensor<float, 1> v = {1.0f, 0x1p-100f, 0x1p-126f, 0x1p-128f, -0.75f};
    const auto q8 = quantizer<pow2<8>>{}.quantize(v);
    CHECK(q8.scale(0) == 1.0f);
    const auto d8 = q8.dequantize();
    CHECK(d8(0) == 1.0f);
    CHECK(d8(1) == 0x1p-100f);  // exactly a level
    CHECK(d8(2) == 0x1p-126f);  // the smallest level
    CHECK(d8(3) == 0.0f);       // below half of it
    CHECK(d8(4) == -1.0f);      // 0.75 is the tie between 0.5 and 1: the larger level
    CHECK(q8.code(0, 0) == 127);
    CHECK(q8.code(0, 4) == (128 | 127));  // sign bit, m = K
    // stochastic: 0.3α lies between 0.25α and 0.5α, goes up with probability 0.2; E = 0.3α
    xt::xtensor<float, 2> s = xt::xtensor<float, 2>::from_shape({1, 20001});
    s.fill(0.3f);
    s(0, 0) = 1.0f;
    using P = quantizer<pow2<4>, symmetric, per_tensor, minmax, stochastic>;
    const auto a = P{minmax{}, stochastic{5}}.quantize(s);
    CHECK(a == P{minmax{}, stochastic{5}}.quantize(s));
    CHECK(a != P{minmax{}, stochastic{6}}.quantize(s));
    const auto ds = a.dequantize();
    double mean = 0.0;
    int up = 0;
    for (std::size_t k = 1; k < s.size(); ++k) {
        CHECK((ds(0, k) == 0.25f || ds(0, k) == 0.5f));
        mean += ds(0, k);
        up += ds(0, k) == 0.5f;
    }
    CHECK(mean / 20000.0 == Approx(0.3).epsilon(0.01));
    CHECK(up > 3700);
    CHECK(up < 4300);
}

namespace {
// Which (format, mapping, granularity, observer, rounding) combinations are valid, written out by
// hand from the rules in docs/quantize.md: affine needs an integer format; fp16/bf16 only per
// tensor; stochastic rounding only for integer and pow2 formats; histogram_kl only for integer
// formats (binary / ternary ignore the observer).
template <class F>
struct rules;
#define COMPRESS_RULE(F, affine_ok, grouped_ok, stochastic_ok, kl_ok)                     \
    template <>                                                                           \
    struct rules<F> {                                                                     \
        static constexpr bool affine = affine_ok, grouped = grouped_ok,                  \
                              stoch = stochastic_ok, kl = kl_ok;                          \
    };
COMPRESS_RULE(int8, true, true, true, true)
COMPRESS_RULE(uint8, true, true, true, true)
COMPRESS_RULE(int4, true, true, true, true)
COMPRESS_RULE(uint4, true, true, true, true)
COMPRESS_RULE(int2, true, true, true, true)
COMPRESS_RULE(binary, false, true, false, true)
COMPRESS_RULE(ternary, false, true, false, true)
COMPRESS_RULE(pow2<2>, false, true, true, false)
COMPRESS_RULE(pow2<5>, false, true, true, false)
COMPRESS_RULE(pow2<8>, false, true, true, false)
COMPRESS_RULE(fp16, false, false, false, false)
COMPRESS_RULE(bf16, false, false, false, false)
COMPRESS_RULE(fp8_e4m3, false, true, false, false)
COMPRESS_RULE(fp8_e5m2, false, true, false, false)
#undef COMPRESS_RULE

template <class F, class M, class G, class O, class R>
constexpr bool expected_valid() {
    using Rl = rules<F>;
    return (!M::is_affine || Rl::affine) && (G::kind == granularity_kind::tensor || Rl::grouped) &&
           (std::is_same_v<R, nearest_even> || Rl::stoch) && (!std::is_same_v<O, histogram_kl> || Rl::kl);
}

template <class F>
int check_all_combinations() {
    int mismatches = 0;
    auto one = [&](auto m, auto g, auto o, auto r) {
        using M = decltype(m);
        using G = decltype(g);
        using O = decltype(o);
        using R = decltype(r);
        mismatches += is_valid_scheme_v<F, M, G, O, R> != expected_valid<F, M, G, O, R>();
        mismatches += is_valid_scheme_v<F, M, G, O, R, fp16> != expected_valid<F, M, G, O, R>();
    };
    auto per_g = [&](auto m, auto g) {
        one(m, g, minmax{}, nearest_even{});
        one(m, g, minmax{}, stochastic{});
        one(m, g, histogram_kl{}, nearest_even{});
        one(m, g, mse_search{}, stochastic{});
    };
    auto per_m = [&](auto m) {
        per_g(m, per_tensor{});
        per_g(m, per_channel<0>{});
        per_g(m, per_channel<3>{});
        per_g(m, per_group<32>{});
    };
    per_m(symmetric{});
    per_m(affine{});
    return mismatches;
}
}  // namespace

TEST_CASE("is_valid_scheme_v: every format x mapping x granularity x observer x rounding", "[quantize]") {
    CHECK(check_all_combinations<int8>() == 0);
    CHECK(check_all_combinations<uint8>() == 0);
    CHECK(check_all_combinations<int4>() == 0);
    CHECK(check_all_combinations<uint4>() == 0);
    CHECK(check_all_combinations<int2>() == 0);
    CHECK(check_all_combinations<binary>() == 0);
    CHECK(check_all_combinations<ternary>() == 0);
    CHECK(check_all_combinations<pow2<2>>() == 0);
    CHECK(check_all_combinations<pow2<5>>() == 0);
    CHECK(check_all_combinations<pow2<8>>() == 0);
    CHECK(check_all_combinations<fp16>() == 0);
    CHECK(check_all_combinations<bf16>() == 0);
    CHECK(check_all_combinations<fp8_e4m3>() == 0);
    CHECK(check_all_combinations<fp8_e5m2>() == 0);
    // wrong kinds in a slot, and scale formats other than float / fp16, are invalid too
    static_assert(!is_valid_scheme_v<symmetric>);
    static_assert(!is_valid_scheme_v<int8, per_tensor>);
    static_assert(!is_valid_scheme_v<int8, symmetric, minmax>);
    static_assert(!is_valid_scheme_v<int8, symmetric, per_tensor, nearest_even>);
    static_assert(!is_valid_scheme_v<int8, symmetric, per_tensor, minmax, minmax>);
    static_assert(!is_valid_scheme_v<int8, symmetric, per_tensor, minmax, nearest_even, double>);
    static_assert(!is_valid_scheme_v<int8, symmetric, per_tensor, minmax, nearest_even, bf16>);
    static_assert(is_valid_scheme_v<int4, symmetric, per_group<32>, minmax, nearest_even, fp16>);
}
