#pragma once
// The runtime registry of the `compress` tool: each name of schemes.hpp is bound here to one
// compile-time instantiated type (a quantizer, a pruner, a sparse format). The core headers
// have no registry; this file is the only place where names become types.

#include <cstddef>
#include <functional>
#include <string>
#include <vector>

#include <compress/io.hpp>
#include <compress/prune.hpp>
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

// ---------------------------------------------------------------------------- pruning

/// One (criterion, grouping) pair: prunes one tensor into a model as a masked tensor.
struct prune_entry {
    const criterion_info* criterion;
    const grouping_info* grouping;
    void (*prune)(io::compressed_model& m, const io::tensor_view& w, double amount, std::uint64_t seed);
};

/// One criterion ranking the weights of many tensors together (unstructured).
struct prune_global_entry {
    const criterion_info* criterion;
    void (*prune)(io::compressed_model& m, const std::vector<io::tensor_view>& ws, double amount, std::uint64_t seed);
};

namespace detail {

template <class Criterion, class Grouping, std::size_t N>
void prune_rank(io::compressed_model& m, const io::tensor_view& v, double a, std::uint64_t seed) {
    auto w = v.get_as<float, N>();
    prune_context<float, N> ctx;
    ctx.with_seed(seed).with_name(v.name());
    auto keep = compute_mask<Criterion, Grouping>(w, amount::fraction(a), ctx);
    keep.apply(w);
    m.add(v.name(), io::masked_tensor<float, N>{std::move(w), std::move(keep)});
}

template <class Criterion, class Grouping>
void prune_any(io::compressed_model& m, const io::tensor_view& v, double a, std::uint64_t seed) {
    switch (v.dimension()) {
        case 2: prune_rank<Criterion, Grouping, 2>(m, v, a, seed); break;
        case 3: prune_rank<Criterion, Grouping, 3>(m, v, a, seed); break;
        case 4: prune_rank<Criterion, Grouping, 4>(m, v, a, seed); break;
        default:
            throw shape_error("tensor '" + v.name() + "' has rank " + std::to_string(v.dimension()) +
                              "; the tool prunes weights of rank 2 to 4");
    }
}

template <std::size_t N>
void add_reshaped(io::compressed_model& m, const io::tensor_view& v, const xt::xtensor<float, 2>& w, const mask<2>& k) {
    std::array<std::size_t, N> shape{};
    for (std::size_t d = 0; d < N; ++d) shape[d] = v.shape()[d];
    xt::xtensor<float, N> values = xt::xtensor<float, N>::from_shape(shape);
    std::copy(w.begin(), w.end(), values.begin());
    mask<N> keep(shape, false);
    for (std::size_t i = 0; i < keep.size(); ++i) keep.set(i, k[i]);
    m.add(v.name(), io::masked_tensor<float, N>{std::move(values), std::move(keep)});
}

/// Global unstructured pruning: every tensor is viewed as the 2-d [d0, d1·…] (the same
/// elements in the same order, so element scores and indices are unchanged).
template <class Criterion>
void prune_global_any(io::compressed_model& m, const std::vector<io::tensor_view>& vs, double a, std::uint64_t seed) {
    std::vector<xt::xtensor<float, 2>> ws;
    std::vector<prune_context<float, 2>> ctxs;
    ws.reserve(vs.size());
    for (const auto& v : vs) {
        const std::size_t rows = v.shape().empty() ? 1 : v.shape()[0];
        const std::size_t cols = rows ? v.size() / rows : 0;
        xt::xtensor<float, 2> w = xt::xtensor<float, 2>::from_shape({rows, cols});
        v.copy_to(w.data());
        ws.push_back(std::move(w));
        prune_context<float, 2> c;
        c.with_seed(seed).with_name(v.name());
        ctxs.push_back(c);
    }
    std::vector<xt::xtensor<float, 2>*> ptrs;
    for (auto& w : ws) ptrs.push_back(&w);
    const auto masks = prune_global<Criterion>(ptrs, amount::fraction(a), ctxs);
    for (std::size_t j = 0; j < vs.size(); ++j) {
        const auto& v = vs[j];
        switch (v.dimension()) {
            case 2: m.add(v.name(), io::masked_tensor<float, 2>{ws[j], masks[j]}); break;
            case 3: add_reshaped<3>(m, v, ws[j], masks[j]); break;
            case 4: add_reshaped<4>(m, v, ws[j], masks[j]); break;
            default:
                throw shape_error("tensor '" + v.name() + "' has rank " + std::to_string(v.dimension()) +
                                  "; the tool prunes weights of rank 2 to 4");
        }
    }
}

}  // namespace detail
namespace detail {
template <class Criterion, class Grouping>
prune_entry make_prune(const char* criterion, const char* grouping) {
    return {find_criterion(criterion), find_grouping(grouping), &prune_any<Criterion, Grouping>};
}
}  // namespace detail

/// Every (criterion, grouping) pair of schemes.hpp.
inline const std::vector<prune_entry>& prune_registry() {
    static const std::vector<prune_entry> r = {
        detail::make_prune<magnitude, unstructured>("magnitude", "unstructured"),
        detail::make_prune<magnitude, rows<l2>>("magnitude", "rows"),
        detail::make_prune<magnitude, columns<l2>>("magnitude", "columns"),
        detail::make_prune<magnitude, n_of_m<2, 4>>("magnitude", "2:4"),
        detail::make_prune<magnitude, blocks<4, 4, l2>>("magnitude", "block4x4"),
        detail::make_prune<compress::random, unstructured>("random", "unstructured"),
        detail::make_prune<compress::random, rows<l2>>("random", "rows"),
        detail::make_prune<compress::random, columns<l2>>("random", "columns"),
        detail::make_prune<compress::random, n_of_m<2, 4>>("random", "2:4"),
        detail::make_prune<compress::random, blocks<4, 4, l2>>("random", "block4x4"),
    };
    return r;
}

inline const std::vector<prune_global_entry>& prune_global_registry() {
    static const std::vector<prune_global_entry> r = {
        {find_criterion("magnitude"), &detail::prune_global_any<magnitude>},
        {find_criterion("random"), &detail::prune_global_any<compress::random>},
    };
    return r;
}

inline const prune_entry& prune_scheme(const std::string& criterion, const std::string& grouping) {
    for (const auto& p : prune_registry()) {
        if (criterion == p.criterion->name && grouping == p.grouping->name) return p;
    }
    throw usage_error("no pruning scheme for criterion '" + criterion + "' and grouping '" + grouping + "'");
}

inline const prune_global_entry& prune_global_scheme(const std::string& criterion) {
    for (const auto& p : prune_global_registry()) {
        if (criterion == p.criterion->name) return p;
    }
    throw usage_error("no global pruning for criterion '" + criterion + "'");
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
