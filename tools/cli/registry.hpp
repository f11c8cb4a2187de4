#pragma once
#ifndef COMPRESS_CLI_IMPLEMENTATION
#error "an implementation header of the compress tool: include cli/api.hpp and link compress_cli_lib"
#endif
// The runtime registry of the `compress` tool: each name of schemes.hpp is bound here to one
// compile-time instantiated type (a quantizer, a pruner, a sparse format). The core headers
// have no registry; this file is the only place where names become types.

#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <compress/io.hpp>
#include <compress/prune.hpp>
#include <compress/quantize.hpp>
#include <compress/sparse.hpp>
#include <compress/kernels/cost_table.hpp>  // the sparse kernels' cost model
#include <xtensor/xarray.hpp>

#include "api.hpp"
#include "args.hpp"
#include "schemes.hpp"

namespace compress::cli {

/// Ranks of weight tensors the tool compresses: linear [out, in], conv1d [out, in, k],
/// conv2d [out, in, kh, kw].
inline constexpr std::size_t min_weight_rank = 2;
inline constexpr std::size_t max_weight_rank = 4;

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

const quant_entry& quant_scheme(const std::string& name) {
    for (const auto& q : quant_registry()) {
        if (name == q.info->name) return q;
    }
    throw usage_error("unknown scheme '" + name + "'");
}

// ---------------------------------------------------------------------------- pruning

/// One criterion ranking the weights of many tensors together (unstructured); returns each
/// tensor's pruned fraction.
struct prune_global_entry {
    const criterion_info* criterion;
    std::vector<double> (*prune)(io::compressed_model& m, const std::vector<io::tensor_view>& ws, double amount,
                                 std::uint64_t seed, const std::string& store);
};

namespace detail {

/// Bytes of a masked tensor of `n` floats: values + the 64-bit words of its mask.
inline std::size_t masked_bytes(std::size_t n) { return n * sizeof(float) + (n + 63) / 64 * 8; }

/// Writes one pruned 2-d weight: masked, or in the sparse format `store` names ("auto": the
/// grouping's format, Sparse, when it takes fewer bytes than masked).
template <class Sparse>
void store_matrix(io::compressed_model& m, const std::string& name, xt::xtensor<float, 2> w, mask<2> keep,
                  const std::string& store) {
    if (store == "masked") {
        m.add(name, io::masked_tensor<float, 2>{std::move(w), std::move(keep)});
        return;
    }
    if (store == "csr") {
        m.add(name, csr<float>::from_dense(w, keep, name));
        return;
    }
    auto s = Sparse::from_dense(w, keep, name);
    if (store == "auto" && s.bytes() >= masked_bytes(w.size())) {
        m.add(name, io::masked_tensor<float, 2>{std::move(w), std::move(keep)});
        return;
    }
    m.add(name, s);
}

/// The sparse format each grouping's masks are stored in by --store auto.
template <class Grouping>
struct sparse_format_of {
    using type = csr<float>;
};
template <std::size_t N, std::size_t M>
struct sparse_format_of<n_of_m<N, M>> {
    using type = n_of_m_matrix<float, N, M>;
};
template <std::size_t R, std::size_t C, class Norm>
struct sparse_format_of<blocks<R, C, Norm>> {
    using type = bsr<float, R, C>;
};

template <class Criterion, class Grouping, std::size_t N>
double prune_rank(io::compressed_model& m, const io::tensor_view& v, double a, std::uint64_t seed,
                  const std::string& store) {
    auto w = v.get_as<float, N>();
    prune_context<float, N> ctx;
    ctx.with_seed(seed).with_name(v.name());
    auto keep = compute_mask<Criterion, Grouping>(w, amount::fraction(a), ctx);
    keep.apply(w);
    const double sparsity = keep.sparsity();
    if constexpr (N == 2) {
        store_matrix<typename sparse_format_of<Grouping>::type>(m, v.name(), std::move(w), std::move(keep), store);
    } else {
        m.add(v.name(), io::masked_tensor<float, N>{std::move(w), std::move(keep)});
    }
    return sparsity;
}

template <class Criterion, class Grouping>
double prune_any(io::compressed_model& m, const io::tensor_view& v, double a, std::uint64_t seed,
                 const std::string& store) {
    switch (v.dimension()) {
        case 2: return prune_rank<Criterion, Grouping, 2>(m, v, a, seed, store);
        case 3: return prune_rank<Criterion, Grouping, 3>(m, v, a, seed, store);
        case 4: return prune_rank<Criterion, Grouping, 4>(m, v, a, seed, store);
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
std::vector<double> prune_global_any(io::compressed_model& m, const std::vector<io::tensor_view>& vs, double a,
                                     std::uint64_t seed, const std::string& store) {
    std::vector<xt::xtensor<float, 2>> ws;
    std::vector<prune_context<float, 2>> ctxs;
    ws.reserve(vs.size());
    for (const auto& v : vs) {
        if (v.dimension() < 2 || v.dimension() > 4) {
            throw shape_error("tensor '" + v.name() + "' has rank " + std::to_string(v.dimension()) +
                              "; the tool prunes weights of rank 2 to 4");
        }
        const std::size_t rows = v.shape()[0];
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
    std::vector<double> sparsity;
    for (std::size_t j = 0; j < vs.size(); ++j) {
        const auto& v = vs[j];
        sparsity.push_back(masks[j].sparsity());
        switch (v.dimension()) {
            case 2: store_matrix<csr<float>>(m, v.name(), std::move(ws[j]), masks[j], store); break;
            case 3: add_reshaped<3>(m, v, ws[j], masks[j]); break;
            default: add_reshaped<4>(m, v, ws[j], masks[j]); break;
        }
    }
    return sparsity;
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

const prune_entry& prune_scheme(const std::string& criterion, const std::string& grouping) {
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

// Declared in api.hpp.
xt::xarray<float> decode_entry(const io::compressed_file& f, const io::compressed_entry& e) {
    if (e.representation == "dense" || e.representation == "masked") {
        xt::xarray<float> out = f.file().view(e.parts.at("values")).get_as<float>();
        return out;
    }
    if (e.representation == "quantized") {
        for (const auto& q : quant_registry()) {
            if (q.matches(e)) return q.dequantize(f, e);
        }
    }
    if (e.original_dtype == io::dtype::f32 && e.shape.size() == 2) {
        if (e.representation == "csr") return f.get<csr<float>>(e.name).to_dense();
        if (e.representation == "bsr" && e.attributes == compress::detail::codec<bsr<float, 4, 4>>::attributes()) {
            return f.get<bsr<float, 4, 4>>(e.name).to_dense();
        }
        if (e.representation == "n_of_m" && e.attributes == compress::detail::codec<n_of_m_matrix<float, 2, 4>>::attributes()) {
            return f.get<n_of_m_matrix<float, 2, 4>>(e.name).to_dense();
        }
    }
    throw format_error("compressed model '" + f.origin() + "': tensor '" + e.name + "' is " +
                       compress::detail::scheme_of(e) + ", which this build of the tool cannot decode");
}

// Declared in api.hpp.
std::string scheme_name_of(const io::compressed_entry& e) {
    for (const auto& q : quant_registry()) {
        if (q.matches(e)) return q.info->name;
    }
    return {};
}

/// True when decode_entry can decode the entry.
inline bool decodable(const io::compressed_entry& e) {
    if (e.representation == "dense" || e.representation == "masked") return true;
    if (e.representation == "quantized") return !scheme_name_of(e).empty();
    if (e.original_dtype != io::dtype::f32 || e.shape.size() != 2) return false;
    if (e.representation == "csr") return true;
    if (e.representation == "bsr") return e.attributes == compress::detail::codec<bsr<float, 4, 4>>::attributes();
    if (e.representation == "n_of_m") return e.attributes == compress::detail::codec<n_of_m_matrix<float, 2, 4>>::attributes();
    return false;
}

/// What the cost model of the sparse kernels (kernels/cost_table.hpp) expects of an entry's
/// kernel against the dense one, for `batch` activation rows.
struct kernel_verdict {
    std::string kernel;              ///< "dense", "csr", "bsr4x4", "2:4", the quantized scheme, ...
    std::optional<double> speedup;   ///< time(dense) / time(kernel), when the model covers it
    std::string note;                ///< why there is no number
};

inline kernel_verdict verdict_of(const io::compressed_file& f, const io::compressed_entry& e, std::size_t batch) {
    if (e.representation == "dense") return {"dense", std::nullopt, "dense"};
    if (e.representation == "masked") return {"dense", std::nullopt, "dense kernel (masked)"};
    if (e.representation == "quantized") {
        const std::string s = scheme_name_of(e);
        return {s.empty() ? "quantized" : s, std::nullopt, "n/a (no cost model for quantized kernels)"};
    }
    std::string kernel = e.representation;
    if (e.representation == "bsr") kernel = "bsr" + e.attribute("block_rows") + "x" + e.attribute("block_cols");
    if (e.representation == "n_of_m") kernel = e.attribute("n") + ":" + e.attribute("m");
    // The caller decoded the entry (decode_entry), so it is csr, bsr<4,4> or n_of_m<2,4>; any
    // other sparse format was refused there with a format_error.
    double s = 0.0;
    if (e.representation == "csr") s = expected_speedup(f.get<csr<float>>(e.name), batch);
    else if (e.representation == "bsr") s = expected_speedup(f.get<bsr<float, 4, 4>>(e.name), batch);
    else s = expected_speedup(f.get<n_of_m_matrix<float, 2, 4>>(e.name), batch);
    return {kernel, s, ""};
}

}  // namespace compress::cli
