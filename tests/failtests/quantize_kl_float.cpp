// Misuse: KL calibration of a floating-point format
#include <compress/quantize.hpp>
int main() {
#ifdef COMPRESS_FAILTEST_OK
    xt::xtensor<float, 2> w = xt::zeros<float>({2, 2}); auto q = compress::quantizer<compress::int8, compress::symmetric, compress::per_tensor, compress::histogram_kl>{}.quantize(w); (void)q;
#else
    xt::xtensor<float, 2> w = xt::zeros<float>({2, 2}); auto q = compress::quantizer<compress::fp8_e4m3, compress::symmetric, compress::per_tensor, compress::histogram_kl>{}.quantize(w); (void)q;
#endif
    return 0;
}
