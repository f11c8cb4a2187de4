// Fuzz target: the compressed-model reader (io/compressed.hpp) with its "compress" metadata
// description. The first input byte chooses how the rest is used:
//  - even: the rest is a whole file (read_compressed);
//  - odd:  the rest is "DESCRIPTION\0SAFETENSORS": the safetensors part is read, the
//          description (JSON text) is put into its metadata under "compress" and the file is
//          written and opened again, so mutations reach the description parser directly
//          instead of having to keep a JSON string inside a JSON string intact.
// Every described entry is then decoded in every representation this target knows (dense,
// masked, and quantized in the schemes the CLI registers, ranks 1 to 4): each decode must
// succeed or throw compress::error; a decoded quantized tensor must dequantize.

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include <compress/io.hpp>
#include <compress/quantize.hpp>

#include "fuzz_common.hpp"

namespace io = compress::io;
using namespace compress;

namespace {

template <class R>
bool try_get(const io::compressed_file& f, const std::string& name, R* out = nullptr) {
    try {
        R r = f.get<R>(name);
        if (out) *out = std::move(r);
        return true;
    } catch (const compress::error&) {
        return false;
    }
}

template <std::size_t N>
void decode_rank(const io::compressed_file& f, const io::compressed_entry& e) {
    const std::string& n = e.name;
    try_get<xt::xtensor<float, N>>(f, n);
    try_get<xt::xtensor<std::int8_t, N>>(f, n);
    io::masked_tensor<float, N> m;
    if (try_get(f, n, &m)) {
        FUZZ_CHECK(m.values.size() == m.keep.size());
        for (std::size_t i = 0; i < m.values.size(); ++i) FUZZ_CHECK(m.keep[i] || m.values.data()[i] == 0.0f);
    }
    auto deq = [&](auto tag) {
        using Q = typename decltype(tag)::template tensor_type<N>;
        Q q;
        if (try_get(f, n, &q)) {
            const auto d = q.dequantize();
            FUZZ_CHECK(d.size() == e.size());
        }
    };
    deq(quantizer<int8, symmetric, per_channel<0>>{});
    deq(quantizer<int8, affine, per_tensor>{});
    deq(quantizer<int4, symmetric, per_group<32>>{});
    deq(quantizer<uint4, affine, per_group<16>>{});
    deq(quantizer<int2, symmetric, per_channel<0>>{});
    deq(quantizer<ternary, symmetric, per_channel<0>>{});
    deq(quantizer<binary, symmetric, per_channel<0>>{});
    deq(quantizer<fp16, symmetric, per_tensor>{});
    deq(quantizer<bf16, symmetric, per_tensor>{});
    deq(quantizer<fp8_e4m3, symmetric, per_channel<0>>{});
}

void decode_all(const io::compressed_file& f) {
    for (const auto& e : f.entries()) {
        FUZZ_CHECK(f.contains(e.name));
        decode_rank<1>(f, e);
        decode_rank<2>(f, e);
        decode_rank<3>(f, e);
        decode_rank<4>(f, e);
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size == 0) return 0;
    io::compressed_file f;
    try {
        if ((data[0] & 1) == 0) {
            f = io::read_compressed(std::vector<std::uint8_t>(data + 1, data + size), "fuzz");
        } else {
            const auto* rest = data + 1;
            const std::size_t n = size - 1;
            const auto* zero = static_cast<const std::uint8_t*>(std::memchr(rest, 0, n));
            if (!zero) return 0;
            const std::string description(reinterpret_cast<const char*>(rest), static_cast<std::size_t>(zero - rest));
            const io::safetensors_file base =
                io::read_safetensors(std::vector<std::uint8_t>(zero + 1, rest + n), "fuzz-base");
            std::vector<io::tensor_view> views;
            for (const auto& t : base.tensors()) views.push_back(base.view(t.name));
            io::metadata_map md = base.metadata();
            md[io::compressed_metadata_key] = description;
            f = io::read_compressed(io::to_safetensors_bytes(views, md), "fuzz");
        }
    } catch (const compress::error&) {
        return 0;
    }
    decode_all(f);
    return 0;
}
