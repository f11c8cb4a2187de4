// W8A8 and weight-only int8 kernels (kernels/int8.hpp) against plain scalar references, on
// every path this build has: the default arch with and without its VNNI extension, the
// AVX2 / AVX-VNNI paths when the build has AVX2, and compress::scalar_arch.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include <compress/kernels/int8.hpp>

#include "lowbit_ref.hpp"

// The whole file in its own namespace: it is compiled in one unity TU with the other files of its
// test program (tests/CMakeLists.txt), and its helpers have the same names as theirs.
namespace test_lowbit_int8 {

using namespace compress;
using namespace compress::detail;
using lowbit_ref::close;

namespace {

struct shape { std::size_t M, N, K; };
// K not a multiple of 4 / 32 / 64, N not a multiple of 16 / 64, M around the register tiles,
// batch 0 and 1.
const shape shapes[] = {{0, 5, 7},   {1, 1, 1},    {1, 17, 33},  {2, 64, 64},   {3, 70, 131}, {5, 16, 4},
                        {6, 48, 65}, {7, 129, 257}, {13, 80, 100}, {12, 33, 3},  {25, 200, 259},
                        {14, 70, 1300}};  // 6-row VNNI tiles over 3 K blocks of 128 groups (the last partial)

template <class Arch, class Ext>
void check_w8a8_path(const char* label) {
    unsigned seed = 1;
    for (const auto& s : shapes) {
        INFO(std::string(label) + " M=" + std::to_string(s.M) + " N=" + std::to_string(s.N) + " K=" + std::to_string(s.K));
        const auto x = lowbit_ref::randn(s.M * s.K, seed++, 2.0f);
        const auto w = lowbit_ref::rand_s8(s.N * s.K, seed++);
        std::vector<float> sw(s.N), bias(s.N);
        for (std::size_t n = 0; n < s.N; ++n) {
            sw[n] = 0.01f + 0.001f * static_cast<float>(n % 7);
            bias[n] = 0.1f * static_cast<float>(n % 5) - 0.2f;
        }
        q8_activations qa;
        quantize_activations_dynamic<Arch>(x.data(), s.M, s.K, s.K, qa);
        // codes: round-half-even of x / (max|x| / 127), clamped; computed here independently
        std::vector<std::int8_t> ref_codes(s.M * s.K);
        for (std::size_t m = 0; m < s.M; ++m) {
            double amax = 0;
            for (std::size_t k = 0; k < s.K; ++k) amax = std::max(amax, std::fabs(double(x[m * s.K + k])));
            const float sc = static_cast<float>(amax) / 127.0f;
            REQUIRE(qa.scales[m] == sc);
            std::int32_t sum = 0;
            for (std::size_t k = 0; k < s.K; ++k) {
                const int q = static_cast<int>(std::nearbyint(x[m * s.K + k] / sc));
                ref_codes[m * s.K + k] = static_cast<std::int8_t>(std::max(-127, std::min(127, q)));
                REQUIRE(int(qa.codes[m * qa.ld + k]) == int(ref_codes[m * s.K + k]));
                sum += ref_codes[m * s.K + k];
            }
            for (std::size_t k = s.K; k < qa.ld; ++k) REQUIRE(qa.codes[m * qa.ld + k] == 0);
            REQUIRE(qa.sums[m] == sum);
        }
        const auto packed = pack_w8a8(w.data(), s.N, s.K, s.K, sw.data(), s.N);
        for (std::size_t n = 0; n < s.N; ++n)
            for (std::size_t k = 0; k < s.K; ++k) REQUIRE(int(packed.code(n, k)) == int(w[n * s.K + k]));

        const auto ref = lowbit_ref::int_gemm(ref_codes, s.M, s.K, w, s.N, s.K);
        std::vector<std::int32_t> C(s.M * s.N + 1, -7);
        w8a8_gemm_s32<Arch, Ext>(qa, packed, C.data(), s.N);
        for (std::size_t i = 0; i < s.M * s.N; ++i) REQUIRE(C[i] == ref[i]);
        REQUIRE(C[s.M * s.N] == -7);  // nothing written past the end

        std::vector<float> Y(s.M * s.N + 1, -7.0f);
        w8a8_gemm<Arch, Ext>(qa, packed, bias.data(), Y.data(), s.N);
        for (std::size_t m = 0; m < s.M; ++m)
            for (std::size_t n = 0; n < s.N; ++n) {
                const double want = double(qa.scales[m]) * sw[n] * double(ref[m * s.N + n]) + bias[n];
                REQUIRE(close(Y[m * s.N + n], want, 1e-6, 1e-6));
            }
        REQUIRE(Y[s.M * s.N] == -7.0f);
    }
}

template <class Arch, class Ext>
void check_w8a8_extremes(const char* label) {
    INFO(label);
    // The saturation trap of vpmaddubsw: |a| = 127 and w = −128 everywhere give pair sums of
    // ±32512, the most any pair can reach; the int32 results must stay exact.
    const std::size_t M = 7, N = 20, K = 1031;
    for (int sign : {1, -1}) {
        std::vector<float> x(M * K, 3.0f * static_cast<float>(sign));
        std::vector<std::int8_t> w(N * K, -128);
        for (std::size_t n = 10; n < N; ++n)
            for (std::size_t k = 0; k < K; ++k) w[n * K + k] = static_cast<std::int8_t>(k % 2 ? 127 : -128);
        q8_activations qa;
        quantize_activations_dynamic<Arch>(x.data(), M, K, K, qa);
        REQUIRE(int(qa.codes[0]) == 127 * sign);
        std::vector<float> one(1, 1.0f);
        const auto packed = pack_w8a8(w.data(), N, K, K, one.data(), 1);
        std::vector<std::int32_t> C(M * N);
        w8a8_gemm_s32<Arch, Ext>(qa, packed, C.data(), N);
        std::vector<std::int8_t> a8(M * K, static_cast<std::int8_t>(127 * sign));
        const auto ref = lowbit_ref::int_gemm(a8, M, K, w, N, K);
        for (std::size_t i = 0; i < M * N; ++i) REQUIRE(C[i] == ref[i]);
        CHECK(C[0] == -128 * 127 * sign * static_cast<int>(K));
    }
}

template <class Arch, class Ext>
void check_w8a8_zero_points_and_static(const char* label) {
    INFO(label);
    const std::size_t M = 9, N = 37, K = 90;
    const auto x = lowbit_ref::randn(M * K, 77, 1.0f);
    const auto w = lowbit_ref::rand_s8(N * K, 78, -100, 100);
    std::vector<std::int32_t> zp(N);
    for (std::size_t n = 0; n < N; ++n) zp[n] = static_cast<std::int32_t>(n % 11) - 5;
    std::vector<float> sw(N, 0.02f);
    // calibrated scale 0.01: values beyond ±1.27 clip to ±127
    q8_activations qa;
    quantize_activations_static<Arch>(x.data(), M, K, K, 0.01f, qa);
    std::vector<std::int8_t> a8(M * K);
    for (std::size_t i = 0; i < M * K; ++i) {
        const int q = static_cast<int>(std::nearbyint(x[i] / 0.01f));
        a8[i] = static_cast<std::int8_t>(std::max(-127, std::min(127, q)));
        REQUIRE(int(qa.codes[(i / K) * qa.ld + i % K]) == int(a8[i]));
    }
    const auto packed = pack_w8a8(w.data(), N, K, K, sw.data(), N, zp.data(), N);
    const auto ref = lowbit_ref::int_gemm(a8, M, K, w, N, K, zp);
    std::vector<std::int32_t> C(M * N);
    w8a8_gemm_s32<Arch, Ext>(qa, packed, C.data(), N);
    for (std::size_t i = 0; i < M * N; ++i) REQUIRE(C[i] == ref[i]);
    std::vector<float> Y(M * N);
    w8a8_gemm<Arch, Ext>(qa, packed, nullptr, Y.data(), N);
    for (std::size_t i = 0; i < M * N; ++i) REQUIRE(close(Y[i], 0.01 * 0.02 * double(ref[i]), 1e-6, 1e-7));
}

template <class Arch>
void check_weight_only_int8(const char* label) {
    struct wcase { std::size_t M, N, K, G; bool per_tensor; };
    const wcase cases[] = {{0, 4, 8, 8, false},    {1, 1, 1, 1, false},     {1, 13, 100, 32, false},
                           {1, 64, 128, 32, false}, {2, 9, 77, 77, false},   {3, 20, 96, 48, false},
                           {4, 17, 130, 16, false}, {9, 33, 257, 64, false}, {5, 6, 40, 40, true},
                           {1, 21, 200, 7, false},  {1, 10, 1056, 32, false}, {2, 19, 4112, 4112, false}};
    unsigned seed = 100;
    for (const auto& c : cases) {
        INFO(std::string(label) + " M=" + std::to_string(c.M) + " N=" + std::to_string(c.N) + " K=" +
             std::to_string(c.K) + " G=" + std::to_string(c.G));
        const auto x = lowbit_ref::randn(c.M * c.K, seed++);
        const auto w = lowbit_ref::rand_s8(c.N * c.K, seed++);
        const std::size_t ng = div_up(c.K, c.G);
        const std::size_t nrows = c.per_tensor ? 1 : c.N;
        std::vector<float> sf(nrows * ng);
        std::vector<std::uint16_t> sh(nrows * ng);
        for (std::size_t i = 0; i < sf.size(); ++i) {
            sh[i] = float_to_fp16(0.005f + 0.0007f * static_cast<float>(i % 13));
            sf[i] = fp16_to_float(sh[i]);  // the same values in both storages
        }
        std::vector<float> bias(c.N);
        for (std::size_t n = 0; n < c.N; ++n) bias[n] = 0.05f * static_cast<float>(n % 3);
        std::vector<double> want(c.M * c.N);
        for (std::size_t m = 0; m < c.M; ++m)
            for (std::size_t n = 0; n < c.N; ++n) {
                double s = bias[n];
                for (std::size_t k = 0; k < c.K; ++k)
                    s += double(sf[(c.per_tensor ? 0 : n) * ng + k / c.G]) * w[n * c.K + k] * x[m * c.K + k];
                want[m * c.N + n] = s;
            }
        const std::size_t stride = c.per_tensor ? 0 : ng;
        std::vector<float> Y(c.M * c.N + 1, -7.0f);
        wo_int8_gemm<Arch>(x.data(), c.M, c.K, c.K, w.data(), c.N, c.K, group_scales<float>{sf.data(), c.G, stride},
                           bias.data(), Y.data(), c.N);
        for (std::size_t i = 0; i < c.M * c.N; ++i) REQUIRE(close(Y[i], want[i], 1e-4, 1e-4));
        REQUIRE(Y[c.M * c.N] == -7.0f);
        std::fill(Y.begin(), Y.end(), -7.0f);
        wo_int8_gemm<Arch>(x.data(), c.M, c.K, c.K, w.data(), c.N, c.K,
                           group_scales<std::uint16_t>{sh.data(), c.G, stride}, bias.data(), Y.data(), c.N);
        for (std::size_t i = 0; i < c.M * c.N; ++i) REQUIRE(close(Y[i], want[i], 1e-4, 1e-4));
        REQUIRE(Y[c.M * c.N] == -7.0f);
    }
}

}  // namespace

TEST_CASE("fp16 group scales decode exactly like core/half.hpp, " COMPRESS_TEST_ARCH " build", "[lowbit][int8]") {
    // every one of the 65536 bit patterns, through the scalar accessor and the batch
    // conversion (F16C vcvtph2ps when the build has it, 8 at a time, plus a scalar tail)
    std::vector<std::uint16_t> all(65536 + 5);
    for (std::size_t i = 0; i < all.size(); ++i) all[i] = static_cast<std::uint16_t>(i % 65536);
    std::vector<float> batch(all.size());
    scales_to_float(all.data(), 0, all.size(), batch.data());
    std::vector<float> off(13);
    scales_to_float(all.data(), 0x3C00 - 3, off.size(), off.data());  // unaligned start, odd count
    std::size_t bad = 0;
    for (std::size_t i = 0; i < all.size(); ++i) {
        // bit for bit, except that F16C quiets a signalling NaN (still a NaN: the output is NaN
        // either way)
        const float want = fp16_to_float(all[i]);
        const float one = scale_at(all.data(), i);
        if (std::isnan(want)) {
            bad += !std::isnan(batch[i]) + !std::isnan(one);
        } else {
            bad += (std::memcmp(&want, &batch[i], 4) != 0) + (std::memcmp(&want, &one, 4) != 0);
        }
    }
    for (std::size_t i = 0; i < off.size(); ++i) bad += off[i] != fp16_to_float(static_cast<std::uint16_t>(0x3C00 - 3 + i));
    CHECK(bad == 0);
    CHECK(scale_at(all.data(), 0x3C00) == 1.0f);
    CHECK(scale_at(all.data(), 0x0001) == std::ldexp(1.0f, -24));  // smallest subnormal
    const group_scales<std::uint16_t> gs{all.data(), 32, 7};
    float row[5];
    gs.row(2, 3, 5, row);  // row 2, groups 3..7 → entries 17..21
    for (std::size_t i = 0; i < 5; ++i) CHECK(row[i] == fp16_to_float(static_cast<std::uint16_t>(17 + i)));
}

TEST_CASE("W8A8 int32 results are exact on every path, " COMPRESS_TEST_ARCH " build", "[lowbit][int8]") {
    using def = xsimd::default_arch;
    INFO(std::string("default path: ") + int_path_name(int8_path<def, lowbit_ext_default>()));
    check_w8a8_path<def, lowbit_ext_default>("default");
    check_w8a8_path<def, lowbit_ext_none>("default arch without VNNI");
    check_w8a8_path<scalar_arch, lowbit_ext_none>("scalar");
#if defined(__AVX2__)
    check_w8a8_path<xsimd::fma3<xsimd::avx2>, lowbit_ext_none>("avx2 maddubs");
    check_w8a8_path<xsimd::fma3<xsimd::avx2>, lowbit_ext_default>("avx2 with AVX-VNNI if present");
#endif
}

TEST_CASE("W8A8 never saturates vpmaddubsw (|a| = 127, w = -128), " COMPRESS_TEST_ARCH " build", "[lowbit][int8]") {
    using def = xsimd::default_arch;
    check_w8a8_extremes<def, lowbit_ext_default>("default");
    check_w8a8_extremes<def, lowbit_ext_none>("default without VNNI");
    check_w8a8_extremes<scalar_arch, lowbit_ext_none>("scalar");
#if defined(__AVX2__)
    check_w8a8_extremes<xsimd::fma3<xsimd::avx2>, lowbit_ext_none>("avx2 maddubs");
    check_w8a8_extremes<xsimd::fma3<xsimd::avx2>, lowbit_ext_default>("avx2/avx-vnni");
#endif
}

TEST_CASE("W8A8 with weight zero points and a calibrated activation scale", "[lowbit][int8]") {
    check_w8a8_zero_points_and_static<xsimd::default_arch, lowbit_ext_default>("default");
    check_w8a8_zero_points_and_static<xsimd::default_arch, lowbit_ext_none>("default without VNNI");
    check_w8a8_zero_points_and_static<scalar_arch, lowbit_ext_none>("scalar");
}

TEST_CASE("W8A8: a zero activation row gives scale 0 and the bias", "[lowbit][int8]") {
    const std::size_t M = 2, N = 3, K = 5;
    std::vector<float> x = {0, 0, 0, 0, 0, 1, -2, 3, 0.5f, 0};
    q8_activations qa;
    quantize_activations_dynamic(x.data(), M, K, K, qa);
    CHECK(qa.scales[0] == 0.0f);
    CHECK(qa.scales[1] == 3.0f / 127.0f);
    CHECK(int(qa.codes[qa.ld + 2]) == 127);
    CHECK(int(qa.codes[qa.ld + 1]) == -85);  // -2 / (3/127) = -84.67 → -85
    const auto w = lowbit_ref::rand_s8(N * K, 5);
    std::vector<float> sw = {0.5f, 0.25f, 1.0f}, bias = {1.0f, 2.0f, 3.0f};
    const auto p = pack_w8a8(w.data(), N, K, K, sw.data(), N);
    std::vector<float> Y(M * N);
    w8a8_gemm(qa, p, bias.data(), Y.data(), N);
    CHECK(Y[0] == 1.0f);
    CHECK(Y[1] == 2.0f);
    CHECK(Y[2] == 3.0f);
    // the packed weights are counted: codes padded to 16 channels × round_up(K, 4) + scales etc.
    CHECK(p.bytes() == 16 * 8 + 16 * 4 * 3);
}

TEST_CASE("weight-only int8 GEMV/GEMM with float and fp16 group scales, " COMPRESS_TEST_ARCH " build",
          "[lowbit][int8]") {
    check_weight_only_int8<xsimd::default_arch>("default");
    check_weight_only_int8<scalar_arch>("scalar");
#if defined(__AVX2__)
    check_weight_only_int8<xsimd::fma3<xsimd::avx2>>("avx2");
#endif
}

}  // namespace test_lowbit_int8
