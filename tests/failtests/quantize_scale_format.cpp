// Misuse: scales stored as double
#include <compress/quantize.hpp>
int main() {
#ifdef COMPRESS_FAILTEST_OK
    compress::quantizer<compress::int4, compress::symmetric, compress::per_group<32>, compress::minmax, compress::nearest_even, compress::fp16> q; (void)q;
#else
    compress::quantizer<compress::int4, compress::symmetric, compress::per_group<32>, compress::minmax, compress::nearest_even, double> q; (void)q;
#endif
    return 0;
}
