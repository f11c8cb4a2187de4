// Misuse: binarized activations fed to int8 weights (XNOR-popcount needs binary / ternary).
#include <compress/kernels/linear_lowbit.hpp>
int main() {
    xt::xtensor<float, 2> w = xt::ones<float>({4, 8});
    xt::xtensor<float, 2> x = xt::ones<float>({2, 8});
#if defined(COMPRESS_FAILTEST_OK)
    auto q = compress::quantizer<compress::binary, compress::symmetric, compress::per_channel<0>>{}.quantize(w);
#else
    auto q = compress::quantizer<compress::int8, compress::symmetric, compress::per_channel<0>>{}.quantize(w);
#endif
    auto y = compress::linear(compress::binarize_activations(x), q);
    return y.size() == 8 ? 0 : 1;
}
