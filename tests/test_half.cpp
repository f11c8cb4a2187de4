// Bit-exact float <-> fp16 / bf16 / fp8 converters (core/half.hpp), checked against an
// independent brute-force reference: every finite value of the target format is decoded with
// the textbook formula in double, and a float rounds to the nearest one (ties to the even
// encoding), with overflow decided against the virtual next value above the largest finite.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <vector>

#include <compress/core/half.hpp>

#if defined(__F16C__)
#include <immintrin.h>
#endif

using namespace compress::detail;

namespace {

struct fmt {
    int E, M, bias;
    bool ieee;  // top exponent = Inf/NaN (fp16, bf16, e5m2); false: e4m3fn (only S.1111.111 is NaN)
};

// Textbook value of a magnitude encoding, in double.
double textbook(const fmt& f, std::uint32_t enc) {
    const std::uint32_t ef = enc >> f.M, mf = enc & ((1u << f.M) - 1u);
    if (ef == 0) return std::ldexp(static_cast<double>(mf), 1 - f.bias - f.M);
    return std::ldexp(1.0 + static_cast<double>(mf) / (1u << f.M), static_cast<int>(ef) - f.bias);
}

std::uint32_t max_finite_enc(const fmt& f) {
    const std::uint32_t all = (1u << (f.E + f.M)) - 1u;
    return f.ieee ? (((1u << f.E) - 2u) << f.M) | ((1u << f.M) - 1u) : all - 1u;
}

// Reference: the encoding of the nearest value (ties to even encoding); returns max+1 on overflow.
std::uint32_t reference(const fmt& f, double a) {
    const std::uint32_t maxe = max_finite_enc(f);
    // the virtual next value above max: max + ulp of the top binade
    const double top = textbook(f, maxe);
    const double ulp = textbook(f, maxe) - textbook(f, maxe - 1);
    // binary search the largest encoding with value <= a
    std::uint32_t lo = 0, hi = maxe;
    if (a >= top) {
        lo = maxe;
    } else {
        while (lo < hi) {
            const std::uint32_t mid = (lo + hi + 1) / 2;
            if (textbook(f, mid) <= a) lo = mid; else hi = mid - 1;
        }
    }
    const double vlo = textbook(f, lo);
    const double vhi = lo == maxe ? top + ulp : textbook(f, lo + 1);
    if (a == vlo) return lo;
    const double dlo = a - vlo, dhi = vhi - a;
    if (dlo < dhi) return lo;
    if (dhi < dlo) return lo + 1;
    return (lo & 1u) ? lo + 1 : lo;
}

std::vector<float> probe_values(const fmt& f, std::uint32_t seed) {
    std::vector<float> v;
    const std::uint32_t maxe = max_finite_enc(f);
    // every representable value, every midpoint (exact ties), and a float ulp either side
    for (std::uint32_t e = 0; e <= maxe; ++e) {
        const double a = textbook(f, e);
        v.push_back(static_cast<float>(a));
        const double b = e < maxe ? textbook(f, e + 1) : a + (a - textbook(f, e - 1));
        const float mid = static_cast<float>((a + b) / 2);
        if (static_cast<double>(mid) == (a + b) / 2) {
            v.push_back(mid);
            v.push_back(std::nextafter(mid, 0.0f));
            v.push_back(std::nextafter(mid, std::numeric_limits<float>::infinity()));
        }
    }
    std::mt19937 rng(seed);
    std::uniform_int_distribution<std::uint32_t> bits(0, 0x7F7FFFFFu);
    for (int i = 0; i < 20000; ++i) v.push_back(bits_to_float(bits(rng)));
    std::uniform_real_distribution<double> mant(1.0, 2.0);
    for (int i = 0; i < 20000; ++i) {
        const int ex = static_cast<int>(rng() % (2 * f.bias + 2 * f.M + 4)) - f.bias - f.M - 2;
        v.push_back(static_cast<float>(std::ldexp(mant(rng), ex)));
    }
    v.push_back(std::numeric_limits<float>::denorm_min());
    v.push_back(std::numeric_limits<float>::min());
    v.push_back(std::numeric_limits<float>::max());
    return v;
}

template <class Enc, class Dec>
void check_format(const fmt& f, Enc enc, Dec dec, std::uint32_t sign_bit, std::uint32_t overflow_code,
                  std::uint32_t sat_code) {
    const std::uint32_t maxe = max_finite_enc(f);
    // decode: every finite encoding matches the textbook value, both signs
    for (std::uint32_t e = 0; e <= maxe; ++e) {
        CHECK(static_cast<double>(dec(e)) == textbook(f, e));
        CHECK(static_cast<double>(dec(e | sign_bit)) == -textbook(f, e));
    }
    for (float x : probe_values(f, 7)) {
        const std::uint32_t ref = reference(f, static_cast<double>(x));
        const std::uint32_t want = ref > maxe ? overflow_code : ref;
        const std::uint32_t want_sat = ref > maxe ? sat_code : ref;
        INFO("x = " << x);
        CHECK(enc(x, false) == want);
        CHECK(enc(-x, false) == (want | sign_bit));
        CHECK(enc(x, true) == want_sat);
    }
}

}  // namespace

TEST_CASE("fp16: round to nearest even, gradual underflow, overflow to Inf or saturate", "[half]") {
    const fmt f{5, 10, 15, true};
    check_format(
        f, [](float x, bool sat) { return static_cast<std::uint32_t>(float_to_fp16(x, sat)); },
        [](std::uint32_t e) { return fp16_to_float(static_cast<std::uint16_t>(e)); }, 0x8000u, 0x7C00u, 0x7BFFu);
    CHECK(float_to_fp16(1.0f) == 0x3C00u);
    CHECK(float_to_fp16(65504.0f) == 0x7BFFu);
    CHECK(float_to_fp16(65520.0f) == 0x7C00u);  // the tie above max rounds to Inf (max is odd)
    CHECK(float_to_fp16(65519.996f) == 0x7BFFu);
    CHECK(float_to_fp16(std::ldexp(1.0f, -24)) == 0x0001u);
    CHECK(float_to_fp16(std::ldexp(1.0f, -25)) == 0x0000u);  // tie with 0: even
    CHECK(float_to_fp16(std::ldexp(3.0f, -26)) == 0x0001u);
    CHECK(float_to_fp16(std::numeric_limits<float>::infinity()) == 0x7C00u);
    CHECK(float_to_fp16(-std::numeric_limits<float>::infinity(), true) == 0xFBFFu);
    CHECK(std::isnan(fp16_to_float(float_to_fp16(std::nanf("")))));
    CHECK(std::isinf(fp16_to_float(0x7C00u)));
#if defined(__F16C__)
    std::mt19937 rng(3);
    for (int i = 0; i < 100000; ++i) {
        const float x = bits_to_float(static_cast<std::uint32_t>(rng()));
        if (std::isnan(x)) continue;
        CHECK(float_to_fp16(x) == _cvtss_sh(x, _MM_FROUND_TO_NEAREST_INT));
    }
#endif
}

TEST_CASE("bf16: round to nearest even, subnormals, overflow", "[half]") {
    const fmt f{8, 7, 127, true};
    check_format(
        f, [](float x, bool sat) { return static_cast<std::uint32_t>(float_to_bf16(x, sat)); },
        [](std::uint32_t e) { return bf16_to_float(static_cast<std::uint16_t>(e)); }, 0x8000u, 0x7F80u, 0x7F7Fu);
    CHECK(float_to_bf16(1.0f) == 0x3F80u);
    CHECK(float_to_bf16(bits_to_float(0x3F808000u)) == 0x3F80u);  // tie, even stays
    CHECK(float_to_bf16(bits_to_float(0x3F818000u)) == 0x3F82u);  // tie, odd rounds up
    CHECK(float_to_bf16(bits_to_float(0x00008000u)) == 0x0000u);  // float subnormal tie -> even 0
    CHECK(float_to_bf16(bits_to_float(0x00018000u)) == 0x0002u);
    CHECK((float_to_bf16(std::nanf("")) & 0x7FC0u) == 0x7FC0u);
}

TEST_CASE("fp8 e4m3fn: 448 max, saturate or NaN, subnormals", "[half]") {
    const fmt f{4, 3, 7, false};
    check_format(
        f, [](float x, bool sat) { return static_cast<std::uint32_t>(float_to_fp8_e4m3(x, sat)); },
        [](std::uint32_t e) { return fp8_e4m3_to_float(static_cast<std::uint8_t>(e)); }, 0x80u, 0x7Fu, 0x7Eu);
    CHECK(fp8_e4m3_to_float(0x7E) == 448.0f);
    CHECK(fp8_e4m3_max == 448.0f);
    CHECK(float_to_fp8_e4m3(464.0f) == 0x7Eu);           // tie with the NaN slot goes to even 448
    CHECK(float_to_fp8_e4m3(465.0f, false) == 0x7Fu);    // overflow without saturation: NaN
    CHECK(float_to_fp8_e4m3(1e9f) == 0x7Eu);
    CHECK(float_to_fp8_e4m3(-1e9f) == 0xFEu);
    CHECK(fp8_e4m3_to_float(0x01) == std::ldexp(1.0f, -9));
    CHECK(std::isnan(fp8_e4m3_to_float(0x7F)));
    CHECK(std::isnan(fp8_e4m3_to_float(0xFF)));
    CHECK(float_to_fp8_e4m3(std::numeric_limits<float>::infinity()) == 0x7Eu);
    CHECK(float_to_fp8_e4m3(std::numeric_limits<float>::infinity(), false) == 0x7Fu);
    CHECK(std::isnan(fp8_e4m3_to_float(float_to_fp8_e4m3(std::nanf("")))));
}

TEST_CASE("fp8 e5m2: 57344 max, saturate or Inf", "[half]") {
    const fmt f{5, 2, 15, true};
    check_format(
        f, [](float x, bool sat) { return static_cast<std::uint32_t>(float_to_fp8_e5m2(x, sat)); },
        [](std::uint32_t e) { return fp8_e5m2_to_float(static_cast<std::uint8_t>(e)); }, 0x80u, 0x7Cu, 0x7Bu);
    CHECK(fp8_e5m2_to_float(0x7B) == 57344.0f);
    CHECK(fp8_e5m2_max == 57344.0f);
    CHECK(float_to_fp8_e5m2(61440.0f, false) == 0x7Cu);  // tie above max: Inf (max is odd)
    CHECK(float_to_fp8_e5m2(61440.0f) == 0x7Bu);
    CHECK(std::isinf(fp8_e5m2_to_float(0x7C)));
    CHECK(std::isnan(fp8_e5m2_to_float(0x7E)));
    CHECK(fp8_e5m2_to_float(0x01) == std::ldexp(1.0f, -16));
    CHECK(std::isnan(fp8_e5m2_to_float(float_to_fp8_e5m2(std::nanf("")))));
}
