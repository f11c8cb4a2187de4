// Misuse: per_group<0> (the policy's own static_assert; only the light policies header is needed)
#include <compress/quantize/policies.hpp>
int main() {
#ifdef COMPRESS_FAILTEST_OK
    compress::per_group<32> g; (void)g;
#else
    compress::per_group<0> g; (void)g;
#endif
    return 0;
}
