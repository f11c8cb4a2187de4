// Misuse: pow2<1> has no exponent bit (the policy's own static_assert; only the light policies header is needed)
#include <compress/quantize/policies.hpp>
int main() {
#ifdef COMPRESS_FAILTEST_OK
    compress::pow2<4> f; (void)f;
#else
    compress::pow2<1> f; (void)f;
#endif
    return 0;
}
