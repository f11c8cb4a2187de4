// Misuse: affine mapping with a binary format
#include <compress/quantize.hpp>
int main() {
#ifdef COMPRESS_FAILTEST_OK
    compress::quantizer<compress::int8, compress::affine> q; (void)q;
#else
    compress::quantizer<compress::binary, compress::affine> q; (void)q;
#endif
    return 0;
}
