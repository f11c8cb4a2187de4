// Misuse: a mask of a 0-d tensor.
#include <compress/core/mask.hpp>
int main() {
#ifdef COMPRESS_FAILTEST_OK
    compress::mask<1> m({3});
#else
    compress::mask<0> m;
#endif
    return static_cast<int>(m.size());
}
