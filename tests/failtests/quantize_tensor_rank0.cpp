// Misuse: a quantized_tensor of rank 0
#include <compress/quantize.hpp>
int main() {
#ifdef COMPRESS_FAILTEST_OK
    compress::quantized_tensor<compress::int8, compress::symmetric, compress::per_tensor, 1> q({1});
#else
    compress::quantized_tensor<compress::int8, compress::symmetric, compress::per_tensor, 0> q({});
#endif
    return static_cast<int>(q.size()) - 1;
}
