// Fuzz target: the safetensors reader (io/safetensors.hpp). The input is a whole file.
// Accepted files must be fully readable (every tensor converted element by element) and
// must survive a write/read round trip unchanged: same names, dtypes, shapes, bytes, metadata.

#include <cstdint>
#include <cstring>
#include <vector>

#include <compress/io.hpp>

#include "fuzz_common.hpp"

namespace io = compress::io;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    io::safetensors_file f;
    try {
        f = io::read_safetensors(std::vector<std::uint8_t>(data, data + size), "fuzz");
    } catch (const compress::error&) {
        return 0;  // rejected: the promised behaviour
    }
    // Every tensor: a converting read of every element, and an exact read that either
    // succeeds or throws compress::error.
    for (const auto& t : f.tensors()) {
        const io::tensor_view v = f.view(t.name);
        FUZZ_CHECK(v.nbytes() == t.nbytes());
        FUZZ_CHECK(v.size() * io::dtype_size(v.type()) == v.nbytes());
        std::vector<double> all(v.size());
        v.copy_to(all.data());
        try {
            (void)v.get<float>();
        } catch (const compress::error&) {
        }
        try {
            (void)v.get_as<double, 2>();
        } catch (const compress::shape_error&) {
            FUZZ_CHECK(v.dimension() != 2);
        }
    }
    // Round trip: what we read, written again, reads back identical.
    std::vector<io::tensor_view> views;
    for (const auto& t : f.tensors()) views.push_back(f.view(t.name));
    const std::vector<std::uint8_t> again = io::to_safetensors_bytes(views, f.metadata());
    const io::safetensors_file g = io::read_safetensors(again, "fuzz-again");
    FUZZ_CHECK(g.size() == f.size());
    FUZZ_CHECK(g.metadata() == f.metadata());
    for (const auto& t : f.tensors()) {
        FUZZ_CHECK(g.contains(t.name));
        const io::tensor_view a = f.view(t.name), b = g.view(t.name);
        FUZZ_CHECK(a.type() == b.type());
        FUZZ_CHECK(a.shape() == b.shape());
        FUZZ_CHECK(a.nbytes() == b.nbytes());
        FUZZ_CHECK(a.nbytes() == 0 || std::memcmp(a.data(), b.data(), a.nbytes()) == 0);
    }
    return 0;
}
