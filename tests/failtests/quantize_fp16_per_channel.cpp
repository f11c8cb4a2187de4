// Misuse: fp16 is a cast without scales
#include <compress/quantize.hpp>
int main() {
#ifdef COMPRESS_FAILTEST_OK
    compress::quantizer<compress::fp8_e4m3, compress::symmetric, compress::per_channel<0>> q; (void)q;
#else
    compress::quantizer<compress::fp16, compress::symmetric, compress::per_channel<0>> q; (void)q;
#endif
    return 0;
}
