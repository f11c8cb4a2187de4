// Misuse: stochastic rounding of a floating-point format
#include <compress/quantize.hpp>
int main() {
#ifdef COMPRESS_FAILTEST_OK
    compress::quantizer<compress::int8, compress::symmetric, compress::per_tensor, compress::minmax, compress::stochastic> q; (void)q;
#else
    compress::quantizer<compress::fp8_e4m3, compress::symmetric, compress::per_tensor, compress::minmax, compress::stochastic> q; (void)q;
#endif
    return 0;
}
