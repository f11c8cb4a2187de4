// Fuzz target: the .npy reader (io/npy.hpp, parse_npy). The input is a whole file.
// Accepted files must be convertible element by element, and writing the result in each
// byte order and memory order and parsing it again must give the same tensor.

#include <cstdint>
#include <cstring>
#include <vector>

#include <compress/io.hpp>

#include "fuzz_common.hpp"

namespace io = compress::io;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    io::tensor t;
    try {
        t = io::parse_npy(data, size, "fuzz");
    } catch (const compress::error&) {
        return 0;
    }
    FUZZ_CHECK(t.size() * io::dtype_size(t.type()) == t.nbytes());
    std::vector<double> all(t.size());
    t.view().copy_to(all.data());
    for (const bool fortran : {false, true}) {
        for (const auto order : {io::byte_order::little, io::byte_order::big}) {
            const auto bytes = io::to_npy_bytes(t, {order, fortran});
            const io::tensor u = io::parse_npy(bytes, "fuzz-again");
            FUZZ_CHECK(u.type() == t.type());
            FUZZ_CHECK(u.shape() == t.shape());
            FUZZ_CHECK(u.nbytes() == t.nbytes());
            FUZZ_CHECK(t.nbytes() == 0 || std::memcmp(u.data(), t.data(), t.nbytes()) == 0);
        }
    }
    return 0;
}
