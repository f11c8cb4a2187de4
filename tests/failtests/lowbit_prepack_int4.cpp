// Misuse: W8A8 prepacking of int4 weights (only int8 / uint8 per-tensor or per-channel<0> fit).
#include <compress/kernels/linear_lowbit.hpp>
int main() {
    xt::xtensor<float, 2> w = xt::ones<float>({4, 8});
#if defined(COMPRESS_FAILTEST_OK)
    auto q = compress::quantizer<compress::int8, compress::symmetric, compress::per_channel<0>>{}.quantize(w);
#else
    auto q = compress::quantizer<compress::int4, compress::symmetric, compress::per_group<4>>{}.quantize(w);
#endif
    auto p = compress::prepack(q);
    return p.bytes() > 0 ? 0 : 1;
}
