// Misuse: a mapping in the Format slot
#include <compress/quantize.hpp>
int main() {
#ifdef COMPRESS_FAILTEST_OK
    compress::quantizer<compress::int8> q; (void)q;
#else
    compress::quantizer<compress::symmetric> q; (void)q;
#endif
    return 0;
}
