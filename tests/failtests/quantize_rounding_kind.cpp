// Misuse: a type that is not a rounding mode in the Rounding slot
#include <compress/quantize.hpp>
int main() {
    xt::xtensor<float, 2> w = xt::zeros<float>({2, 2});
#ifdef COMPRESS_FAILTEST_OK
    compress::quantizer<compress::int8, compress::symmetric, compress::per_tensor, compress::minmax, compress::stochastic> q;
#else
    compress::quantizer<compress::int8, compress::symmetric, compress::per_tensor, compress::minmax, compress::minmax> q;
#endif
    (void)q.quantize(w);
    return 0;
}
