// Misuse: int8-quantized activations fed to int4 per-group weights (W8A8 needs int8 / uint8
// weights with per-tensor or per-output-channel scales).
#include <compress/kernels/linear_lowbit.hpp>
int main() {
    xt::xtensor<float, 2> w = xt::ones<float>({4, 64});
    xt::xtensor<float, 2> x = xt::ones<float>({2, 64});
#if defined(COMPRESS_FAILTEST_OK)
    auto q = compress::quantizer<compress::int8, compress::symmetric, compress::per_channel<0>>{}.quantize(w);
#else
    auto q = compress::quantizer<compress::int4, compress::symmetric, compress::per_group<32>>{}.quantize(w);
#endif
    auto y = compress::linear(compress::quantize_activations(x), q);
    return y.size() == 8 ? 0 : 1;
}
