#pragma once
// The runtime registry of the `compress` tool: each name of schemes.hpp is bound here to one
// compile-time instantiated type (a quantizer, a pruner, a sparse format). The core headers
// have no registry; this file is the only place where names become types.

#include <cstddef>
#include <functional>
#include <string>
#include <vector>

#include <compress/io.hpp>
#include <compress/quantize.hpp>
#include <xtensor/xarray.hpp>

#include "args.hpp"
#include "schemes.hpp"

namespace compress::cli {

/// Ranks of weight tensors the tool compresses: linear [out, in], conv1d [out, in, k],
/// conv2d [out, in, kh, kw].
inline constexpr std::size_t min_weight_rank = 2;
inline constexpr std::size_t max_weight_rank = 4;

/// One quantization scheme: how to quantize a tensor into a model, how to recognize an
/// entry it wrote, how to dequantize such an entry.
struct quant_entry {
    const quant_scheme_info* info;
    void (*quantize)(io::compressed_model& m, const io::tensor_view& w);
    bool (*matches)(const io::compressed_entry& e);
    xt::xarray<float> (*dequantize)(const io::compressed_file& f, const io::compressed_entry& e);
};

namespace detail {

template <class Qz, std::size_t N>
using qtensor_t = typename Qz::template tensor_type<N>;

template <class Qz, std::size_t N>
void quantize_rank(io::compressed_model& m, const io::tensor_view& w) {
    const auto x = w.get_as<float, N>();
    m.add(w.name(), Qz{}.quantize(x, w.name()));
}

template <class Qz>
void quantize_any(io::compressed_model& m, const io::tensor_view& w) {
    switch (w.dimension()) {
        case 2: quantize_rank<Qz, 2>(m, w); break;
        case 3: quantize_rank<Qz, 3>(m, w); break;
        case 4: quantize_rank<Qz, 4>(m, w); break;
        default:
            throw shape_error("tensor '" + w.name() + "' has rank " + std::to_string(w.dimension()) +
                              "; the tool quantizes weights of rank 2 to 4");
    }
}

template <class Qz>
bool matches(const io::compressed_entry& e) {
    return e.representation == "quantized" &&
           e.attributes == compress::detail::codec<qtensor_t<Qz, 2>>::attributes();
}

template <class Qz, std::size_t N>
xt::xarray<float> dequantize_rank(const io::compressed_file& f, const io::compressed_entry& e) {
    const auto q = f.get<qtensor_t<Qz, N>>(e.name);
    const auto d = q.dequantize();
    xt::xarray<float> out = xt::xarray<float>::from_shape(e.shape);
    std::copy(d.begin(), d.end(), out.begin());
    return out;
}

template <class Qz>
xt::xarray<float> dequantize_any(const io::compressed_file& f, const io::compressed_entry& e) {
    switch (e.shape.size()) {
        case 1: return dequantize_rank<Qz, 1>(f, e);
        case 2: return dequantize_rank<Qz, 2>(f, e);
        case 3: return dequantize_rank<Qz, 3>(f, e);
        case 4: return dequantize_rank<Qz, 4>(f, e);
        default:
            throw format_error("compressed model '" + f.origin() + "': tensor '" + e.name + "' has rank " +
                               std::to_string(e.shape.size()) + "; the tool reads quantized tensors of rank 1 to 4");
    }
}

template <class Qz>
quant_entry make_quant(const char* name) {
    return {find_quant_scheme(name), &quantize_any<Qz>, &matches<Qz>, &dequantize_any<Qz>};
}

}  // namespace detail

/// The quantization schemes, in the order of schemes.hpp.
inline const std::vector<quant_entry>& quant_registry() {
    static const std::vector<quant_entry> r = {
        detail::make_quant<quantizer<int8, symmetric, per_channel<0>>>("int8-sym-channel"),
        detail::make_quant<quantizer<int8, affine, per_tensor>>("int8-affine-tensor"),
        detail::make_quant<quantizer<int4, symmetric, per_group<32>>>("int4-sym-g32"),
        detail::make_quant<quantizer<int2, symmetric, per_channel<0>>>("int2"),
        detail::make_quant<quantizer<ternary, symmetric, per_channel<0>>>("ternary"),
        detail::make_quant<quantizer<binary, symmetric, per_channel<0>>>("binary"),
        detail::make_quant<quantizer<fp16, symmetric, per_tensor>>("fp16"),
        detail::make_quant<quantizer<bf16, symmetric, per_tensor>>("bf16"),
        detail::make_quant<quantizer<fp8_e4m3, symmetric, per_channel<0>>>("fp8"),
    };
    return r;
}

inline const quant_entry& quant_scheme(const std::string& name) {
    for (const auto& q : quant_registry()) {
        if (name == q.info->name) return q;
    }
    throw usage_error("unknown scheme '" + name + "'");
}

/// The dense float values of any entry the tool can decode: dense (any numeric dtype),
/// masked, and quantized with a registered scheme. Throws format_error naming the
/// representation otherwise.
inline xt::xarray<float> decode_entry(const io::compressed_file& f, const io::compressed_entry& e) {
    if (e.representation == "dense" || e.representation == "masked") {
        xt::xarray<float> out = f.file().view(e.parts.at("values")).get_as<float>();
        return out;
    }
    if (e.representation == "quantized") {
        for (const auto& q : quant_registry()) {
            if (q.matches(e)) return q.dequantize(f, e);
        }
    }
    throw format_error("compressed model '" + f.origin() + "': tensor '" + e.name + "' is " +
                       compress::detail::scheme_of(e) + ", which this build of the tool cannot decode");
}

/// Name of the registered scheme that wrote a quantized entry, or "".
inline std::string scheme_name_of(const io::compressed_entry& e) {
    for (const auto& q : quant_registry()) {
        if (q.matches(e)) return q.info->name;
    }
    return {};
}

}  // namespace compress::cli
