// Misuse: calibrating a binary quantizer
#include <compress/quantize.hpp>
int main() {
#ifdef COMPRESS_FAILTEST_OK
    xt::xtensor<float, 2> x = xt::zeros<float>({2, 2}); compress::quantizer<compress::int8> q; q.observe(x);
#else
    xt::xtensor<float, 2> x = xt::zeros<float>({2, 2}); compress::quantizer<compress::binary> q; q.observe(x);
#endif
    return 0;
}
