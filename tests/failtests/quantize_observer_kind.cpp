// Misuse: a type that is not an observer in the Observer slot
#include <compress/quantize.hpp>
int main() {
    xt::xtensor<float, 2> w = xt::zeros<float>({2, 2});
#ifdef COMPRESS_FAILTEST_OK
    compress::quantizer<compress::int8, compress::symmetric, compress::per_tensor, compress::minmax> q;
#else
    compress::quantizer<compress::int8, compress::symmetric, compress::per_tensor, compress::nearest_even> q;
#endif
    (void)q.quantize(w);
    return 0;
}
