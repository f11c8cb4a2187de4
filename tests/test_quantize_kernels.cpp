// The SIMD quantize loops give the same results as the scalar path (built for AVX-512, AVX2
// and the SSE2 baseline; each build also runs compress::scalar_arch explicitly).
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>
#include <vector>

#include <compress/quantize.hpp>

// The whole file in its own namespace: it is compiled in one unity TU with the other files of its
// test program (tests/CMakeLists.txt), and its helpers have the same names as theirs.
namespace test_quantize_kernels {

using namespace compress;

TEST_CASE("span_minmax: SIMD equals scalar, non-finite values detected anywhere", "[quantize][kernels]") {
    INFO("arch build " << COMPRESS_TEST_ARCH);
    std::mt19937 rng(1);
    std::normal_distribution<float> nd(0.0f, 2.0f);
    for (std::size_t n : {0u, 1u, 7u, 15u, 16u, 17u, 31u, 32u, 33u, 100u, 1000u}) {
        std::vector<float> x(n);
        for (auto& v : x) v = nd(rng);
        float lo1 = std::numeric_limits<float>::infinity(), hi1 = -lo1, lo2 = lo1, hi2 = hi1;
        CHECK(detail::span_minmax<>(x.data(), n, lo1, hi1));
        CHECK(detail::span_minmax<scalar_arch>(x.data(), n, lo2, hi2));
        CHECK(lo1 == lo2);
        CHECK(hi1 == hi2);
        for (std::size_t k = 0; k < n; k += 1 + n / 5) {
            auto y = x;
            y[k] = (k % 2) ? std::numeric_limits<float>::quiet_NaN() : -std::numeric_limits<float>::infinity();
            float a = 0, b = 0;
            CHECK_FALSE(detail::span_minmax<>(y.data(), n, a, b));
            CHECK_FALSE(detail::span_minmax<scalar_arch>(y.data(), n, a, b));
        }
    }
}

TEST_CASE("span_encode_nearest: SIMD equals scalar, ties to even, clamping", "[quantize][kernels]") {
    std::vector<float> x;
    for (int k = -600; k <= 600; ++k) x.push_back(0.5f * static_cast<float>(k) * 0.25f);  // exact ties at inv = 4
    x.push_back(1e30f);
    x.push_back(-1e30f);
    std::vector<std::int32_t> a(x.size()), b(x.size());
    for (int zp : {0, -3, 100}) {
        const float lo = static_cast<float>(-128 - zp), hi = static_cast<float>(127 - zp);
        detail::span_encode_nearest<>(x.data(), x.size(), 4.0f, lo, hi, zp, a.data());
        detail::span_encode_nearest<scalar_arch>(x.data(), x.size(), 4.0f, lo, hi, zp, b.data());
        CHECK(a == b);
        for (std::size_t i = 0; i < x.size(); ++i) {
            const double v = std::min<double>(std::max<double>(std::nearbyint(x[i] * 4.0), lo), hi) + zp;
            CHECK(a[i] == static_cast<std::int32_t>(v));
        }
    }
    // ties to even: 0.5 -> 0, 1.5 -> 2, 2.5 -> 2, -0.5 -> 0, -1.5 -> -2
    const float t[5] = {0.125f, 0.375f, 0.625f, -0.125f, -0.375f};
    std::int32_t o[5];
    detail::span_encode_nearest<>(t, 5, 4.0f, -128.0f, 127.0f, 0, o);
    CHECK(o[0] == 0);
    CHECK(o[1] == 2);
    CHECK(o[2] == 2);
    CHECK(o[3] == 0);
    CHECK(o[4] == -2);
}

TEST_CASE("quantize with the default arch equals quantize with scalar_arch", "[quantize][kernels]") {
    xt::xtensor<float, 2> w = xt::xtensor<float, 2>::from_shape({13, 101});
    std::mt19937 rng(2);
    std::normal_distribution<float> nd(0.0f, 1.0f);
    for (auto& v : w) v = nd(rng);
    {
        const quantizer<int8, symmetric, per_channel<0>> q;
        CHECK(q.quantize(w) == q.quantize<scalar_arch>(w));
    }
    {
        const quantizer<uint8, affine, per_tensor> q;
        CHECK(q.quantize(w) == q.quantize<scalar_arch>(w));
    }
    {
        const quantizer<int4, symmetric, per_group<32>, minmax, nearest_even, fp16> q;
        CHECK(q.quantize(w) == q.quantize<scalar_arch>(w));
    }
    {
        const quantizer<int2, affine, per_group<16>> q;
        CHECK(q.quantize(w) == q.quantize<scalar_arch>(w));
    }
    {
        // calibration and fake quantization take the same Arch parameter
        quantizer<int8, affine, per_channel<1>> a, b;
        a.observe(w);
        b.observe<scalar_arch>(w);
        CHECK((a.fake_quantize(w) == b.fake_quantize<scalar_arch>(w)));
        CHECK(a.quantize(w) == b.quantize<scalar_arch>(w));
    }
}

namespace {
// A deterministic row-major tensor with values that are not ties (so rounding is unambiguous).
xt::xtensor<float, 2> layout_input(std::size_t rows, std::size_t cols) {
    xt::xtensor<float, 2> w = xt::xtensor<float, 2>::from_shape({rows, cols});
    for (std::size_t i = 0; i < w.size(); ++i) {
        const int k = static_cast<int>((i * 37 + 11) % 101) - 50;
        w.data()[i] = 0.013f * static_cast<float>(k) + 0.0007f;
    }
    return w;
}
}  // namespace

TEST_CASE("packed bytes follow the documented layout in every arch build (not the SIMD width)", "[quantize][kernels]") {
    INFO("arch build " << COMPRESS_TEST_ARCH);
    const std::size_t R = 3, C = 77;  // 77: not a multiple of any vector width, odd, > 64
    const auto w = layout_input(R, C);
    // reference codes from the definition: per-row symmetric scale amax / ((qmax - qmin) / 2)
    auto ref_codes = [&](int qmin, int qmax) {
        std::vector<int> codes(R * C);
        for (std::size_t r = 0; r < R; ++r) {
            float amax = 0.0f;
            for (std::size_t c = 0; c < C; ++c) amax = std::max(amax, std::fabs(w(r, c)));
            const float inv = 1.0f / (amax / (static_cast<float>(qmax - qmin) / 2.0f));
            for (std::size_t c = 0; c < C; ++c) {
                const float v = std::nearbyint(w(r, c) * inv);
                codes[r * C + c] = static_cast<int>(std::min(std::max(v, float(qmin)), float(qmax)));
            }
        }
        return codes;
    };
    {  // int8: one two's-complement byte per code, rows of C bytes
        const auto q = quantizer<int8, symmetric, per_channel<0>>{}.quantize(w);
        const auto codes = ref_codes(-128, 127);
        REQUIRE(q.code_bytes() == R * C);
        std::size_t bad = 0;
        for (std::size_t i = 0; i < R * C; ++i) bad += q.codes()[i] != static_cast<std::uint8_t>(codes[i] & 0xFF);
        CHECK(bad == 0);
    }
    {  // int4: byte k/2 of the row, low nibble for even k; rows of ceil(C/2) bytes, pad nibble 0
        const auto q = quantizer<int4, symmetric, per_channel<0>>{}.quantize(w);
        const auto codes = ref_codes(-8, 7);
        const std::size_t stride = (C + 1) / 2;
        REQUIRE(q.code_bytes() == R * stride);
        std::vector<std::uint8_t> want(R * stride, 0);
        for (std::size_t r = 0; r < R; ++r)
            for (std::size_t c = 0; c < C; ++c)
                want[r * stride + c / 2] |= static_cast<std::uint8_t>((codes[r * C + c] & 0xF) << (4 * (c % 2)));
        CHECK(std::equal(want.begin(), want.end(), q.codes()));
    }
    {  // int2: byte k/4, bits 2·(k%4); rows of ceil(C/4) bytes
        const auto q = quantizer<int2, symmetric, per_channel<0>>{}.quantize(w);
        const auto codes = ref_codes(-2, 1);
        const std::size_t stride = (C + 3) / 4;
        REQUIRE(q.code_bytes() == R * stride);
        std::vector<std::uint8_t> want(R * stride, 0);
        for (std::size_t r = 0; r < R; ++r)
            for (std::size_t c = 0; c < C; ++c)
                want[r * stride + c / 4] |= static_cast<std::uint8_t>((codes[r * C + c] & 0x3) << (2 * (c % 4)));
        CHECK(std::equal(want.begin(), want.end(), q.codes()));
    }
    {  // binary: bit k%8 of byte k/8 (little-endian 64-bit words), 1 for w >= 0; rows of 8·ceil(C/64) bytes
        const auto q = quantizer<binary, symmetric, per_channel<0>>{}.quantize(w);
        const std::size_t stride = 8 * ((C + 63) / 64);
        REQUIRE(q.code_bytes() == R * stride);
        std::vector<std::uint8_t> want(R * stride, 0);
        for (std::size_t r = 0; r < R; ++r)
            for (std::size_t c = 0; c < C; ++c)
                if (w(r, c) >= 0.0f) want[r * stride + c / 8] |= static_cast<std::uint8_t>(1u << (c % 8));
        CHECK(std::equal(want.begin(), want.end(), q.codes()));
    }
    {  // ternary: plane `nonzero` then plane `negative`, each 8·ceil(C/64) bytes, Δ = 0.7·mean|w|
        const auto q = quantizer<ternary, symmetric, per_channel<0>>{}.quantize(w);
        const std::size_t plane = 8 * ((C + 63) / 64);
        REQUIRE(q.code_bytes() == R * 2 * plane);
        std::vector<std::uint8_t> want(R * 2 * plane, 0);
        for (std::size_t r = 0; r < R; ++r) {
            double m = 0.0;
            for (std::size_t c = 0; c < C; ++c) m += std::fabs(w(r, c));
            const float delta = static_cast<float>(0.7 * m / C);
            for (std::size_t c = 0; c < C; ++c) {
                if (std::fabs(w(r, c)) <= delta) continue;
                want[r * 2 * plane + c / 8] |= static_cast<std::uint8_t>(1u << (c % 8));
                if (w(r, c) < 0.0f) want[r * 2 * plane + plane + c / 8] |= static_cast<std::uint8_t>(1u << (c % 8));
            }
        }
        CHECK(std::equal(want.begin(), want.end(), q.codes()));
    }
}

}  // namespace test_quantize_kernels
