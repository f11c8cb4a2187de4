#pragma once
// Shared by test_lowbit_odr.cpp and test_lowbit_odr_ext.cpp (see there).
#include <vector>

#include <xtensor/xtensor.hpp>

#include <compress/linear.hpp>
#include <compress/quantize.hpp>

namespace lowbit_odr {

using int4_g32 = compress::quantized_tensor<compress::int4, compress::symmetric, compress::per_group<32>, 2, float>;

/// What one translation unit computes for the same x and int4 weights.
struct result {
    std::vector<float> via_linear;  ///< compress::linear<xsimd::avx512bw>(x, q)
    std::vector<float> kernel;      ///< the int4 kernel named with this TU's extensions, called directly
    bool bf16 = false;              ///< whether this TU was compiled with AVX512_BF16
};

result run_ext_tu(const xt::xtensor<float, 2>& x, const int4_g32& q);  // test_lowbit_odr_ext.cpp

/// The body both TUs compile, with their own flags. Ext (this TU's lowbit_ext_default) is in the
/// name, so the two instantiations are distinct whatever the linker does.
template <class Ext>
result run_here(const xt::xtensor<float, 2>& x, const int4_g32& q, bool bf16) {
    result r;
    r.bf16 = bf16;
    const auto y = compress::linear<xsimd::avx512bw>(x, q);
    r.via_linear.assign(y.begin(), y.end());
    const std::size_t M = x.shape()[0], K = x.shape()[1], N = q.rows();
    compress::detail::group_scales<float> gs;
    gs.s = q.scales();
    gs.group = 32;
    gs.row_stride = q.groups_per_row();
    r.kernel.assign(M * N, 0.0f);
    compress::detail::wo_int4_gemm<xsimd::avx512bw, Ext>(x.data(), M, K, K, q.codes(), N, q.row_stride(), gs,
                                                           nullptr, r.kernel.data(), N);
    return r;
}

}  // namespace lowbit_odr
