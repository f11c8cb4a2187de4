// Fuzz target: the IDX reader under the Fashion-MNIST loader (nn/fashion_mnist.hpp,
// parse_idx), plain or gzipped. An accepted file's values must be exactly the product of
// its dimensions.

#include <cstdint>
#include <vector>

#include <compress/nn/fashion_mnist.hpp>

#include "fuzz_common.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    compress::nn::idx_array a;
    try {
        a = compress::nn::parse_idx(data, size, "fuzz");
    } catch (const compress::error&) {
        return 0;
    }
    FUZZ_CHECK(!a.dims.empty());
    std::size_t n = 1;
    for (auto d : a.dims) n *= d;
    FUZZ_CHECK(n == a.values.size());
    return 0;
}
