// The second TU of test_lowbit_odr (see test_lowbit_odr.cpp): compiled with the same AVX-512
// flags plus AVX-512 VNNI, AVX512_BF16 and VPOPCNTDQ, so xsimd::default_arch is the same
// (avx512bw) but the int4 GEMV takes its AVX512_BF16 path.
#include "test_lowbit_odr.hpp"

namespace lowbit_odr {

result run_ext_tu(const xt::xtensor<float, 2>& x, const int4_g32& q) {
    return run_here<compress::detail::lowbit_ext_default>(x, q, COMPRESS_HAS_BF16512 != 0);
}

}  // namespace lowbit_odr
