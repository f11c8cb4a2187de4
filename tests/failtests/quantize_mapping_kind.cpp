// Misuse: a type that is not a mapping in the Mapping slot
#include <compress/quantize.hpp>
int main() {
    xt::xtensor<float, 2> w = xt::zeros<float>({2, 2});
#ifdef COMPRESS_FAILTEST_OK
    compress::quantizer<compress::int8, compress::affine> q;
#else
    compress::quantizer<compress::int8, compress::per_tensor> q;
#endif
    (void)q.quantize(w);
    return 0;
}
