// The ODR guard of compress::linear for quantized weights (kernels/linear_lowbit.hpp): two
// translation units with the same xsimd arch (avx512bw) but different extension flags — this
// one without AVX-512 VNNI / AVX512_BF16 / VPOPCNTDQ, test_lowbit_odr_ext.cpp with them — both
// call compress::linear<xsimd::avx512bw>(x, q) on int4 per-group-32 weights. The int4 GEMV
// rounds differently on its AVX512_BF16 path (x split into two bf16 parts) than on the fp32
// AVX-512 path, so each TU's result shows which kernel it ran. If linear's instantiations had the
// same name in both TUs, the linker would keep one body and one TU would run the other's kernel
// (a baseline TU then executes BF16 / VNNI instructions). Built at -O0, where nothing is inlined
// and the linker really does pick one body of same-named instantiations.
#include <catch2/catch.hpp>

#include <random>

#include "test_lowbit_odr.hpp"

namespace {

bool cpu_has_avx512_ext() {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512bf16") &&
           __builtin_cpu_supports("avx512vnni") && __builtin_cpu_supports("avx512vpopcntdq");
}

}  // namespace

TEST_CASE("linear on quantized weights: TUs with the same arch and different extension flags keep their own kernels",
          "[linear][lowbit][odr]") {
    if (!cpu_has_avx512_ext()) {
        WARN("this CPU lacks AVX-512 BW / BF16 / VNNI / VPOPCNTDQ: the two TUs cannot both run here");
        return;
    }
    STATIC_REQUIRE(COMPRESS_HAS_BF16512 == 0);  // this TU: no AVX512_BF16
    std::mt19937 rng(11);
    std::normal_distribution<float> nd(0.0f, 1.0f);
    const std::size_t K = 1000, N = 40;
    xt::xtensor<float, 2> w = xt::xtensor<float, 2>::from_shape({N, K});
    for (auto& v : w) v = nd(rng);
    xt::xtensor<float, 2> x = xt::xtensor<float, 2>::from_shape({1, K});
    for (auto& v : x) v = nd(rng) * 3.7f;
    const auto q = compress::quantizer<compress::int4, compress::symmetric, compress::per_group<32>>{}.quantize(w);

    const auto base = lowbit_odr::run_here<compress::detail::lowbit_ext_default>(x, q, false);
    const auto ext = lowbit_odr::run_ext_tu(x, q);
    REQUIRE(ext.bf16);
    // the two kernels (named with their extensions, so certainly each TU's own) round
    // differently: otherwise this test could not tell them apart
    REQUIRE(base.kernel != ext.kernel);
    // each TU's linear ran its own TU's kernel, bit for bit
    CHECK(base.via_linear == base.kernel);
    CHECK(ext.via_linear == ext.kernel);
    // and both are the same product up to the bf16 path's stated error
    for (std::size_t n = 0; n < N; ++n) CHECK(ext.kernel[n] == Approx(base.kernel[n]).margin(1e-3).epsilon(1e-4));
}
