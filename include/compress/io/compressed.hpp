#pragma once
// Compressed-model files: valid safetensors files whose tensors are the parts of each
// original tensor's compressed representation (packed codes, scales, zero points, sparse
// index arrays, bit masks), described in `__metadata__["compress"]` by a versioned JSON
// document. Any safetensors reader opens them; this header loads each entry back into the
// library's typed representation with an exact round trip. See docs/io.md for the schema.

#include <cstddef>
#include <cstdint>
#include <limits>
#include <map>
#include <set>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "../core/error.hpp"
#include "../core/mask.hpp"
#include "../quantize.hpp"
#include "json.hpp"
#include "safetensors.hpp"
#include "tensor.hpp"

namespace compress::io {

/// Version of the "compress" metadata document this header writes (and the newest it reads).
inline constexpr int compressed_format_version = 1;
/// The `__metadata__` key holding the description.
inline constexpr const char* compressed_metadata_key = "compress";
/// The value of the description's "format" field.
inline constexpr const char* compressed_format_name = "compress.model";

/// Dense values whose pruned entries are zero, with the keep-mask that says which.
template <class T, std::size_t N>
struct masked_tensor {
    xt::xtensor<T, N> values;
    mask<N> keep;
};

/// One original tensor of a compressed model: how it is represented and which file tensors
/// ("parts") hold it.
struct compressed_entry {
    std::string name;
    /// "dense", "masked" or "quantized" (and the sparse formats of sparse.hpp).
    std::string representation;
    /// Shape of the original (dense) tensor.
    shape_type shape;
    /// Element type of the original tensor.
    dtype original_dtype = dtype::f32;
    /// role → name of the file tensor (e.g. "codes" → "fc1.weight.codes").
    std::map<std::string, std::string> parts;
    /// Representation parameters, e.g. format=int4, mapping=symmetric, granularity=per_group, group_size=32.
    std::map<std::string, std::string> attributes;

    /// An attribute, or "" when absent.
    std::string attribute(const std::string& key) const {
        auto it = attributes.find(key);
        return it == attributes.end() ? std::string() : it->second;
    }
    std::size_t size() const noexcept { return detail::element_count(shape); }
};

}  // namespace compress::io

namespace compress::detail {

/// Encoder/decoder of one representation type; specialized below for xt::xtensor (dense),
/// masked_tensor, quantized_tensor (and the sparse formats).
template <class R, class = void>
struct codec;

inline std::string scheme_of(const io::compressed_entry& e) {
    std::string s = e.representation;
    for (const auto& [k, v] : e.attributes) s += " " + k + "=" + v;
    return s;
}

[[noreturn]] inline void entry_fail(const std::string& origin, const std::string& name, const std::string& what) {
    throw format_error("compressed model '" + origin + "': tensor '" + name + "': " + what);
}

}  // namespace compress::detail

namespace compress::io {

/// A compressed model being assembled for writing: add each tensor in its representation,
/// then save_compressed().
class compressed_model {
public:
    /// Adds a tensor in any supported representation: an xtensor expression (stored dense),
    /// masked_tensor, quantized_tensor. Throws value_error when the name is taken.
    template <class R>
    void add(const std::string& name, const R& r) {
        if (entries_.count(name)) throw value_error("compressed model: two tensors named '" + name + "'");
        using D = std::decay_t<R>;
        if constexpr (xt::is_xexpression<D>::value) {
            using T = typename D::value_type;
            add_part(name, "values", name, tensor(r));
            compressed_entry& e = entries_[name];
            e.name = name;
            e.representation = "dense";
            e.original_dtype = dtype_of<T>;
            e.shape.assign(r.shape().begin(), r.shape().end());
        } else {
            detail::codec<D>::store(*this, name, r);
        }
    }

    /// Adds a tensor already in file form (e.g. copied from another file) as dense.
    void add_raw(const std::string& name, const tensor& t) {
        if (entries_.count(name)) throw value_error("compressed model: two tensors named '" + name + "'");
        add_part(name, "values", name, t);
        compressed_entry& e = entries_[name];
        e.name = name;
        e.representation = "dense";
        e.original_dtype = t.type();
        e.shape = t.shape();
    }

    /// Copies an entry of an opened compressed model unchanged (its parts and description).
    template <class File>
    void copy_entry(const File& f, const compressed_entry& e) {
        if (entries_.count(e.name)) throw value_error("compressed model: two tensors named '" + e.name + "'");
        for (const auto& [role, part] : e.parts) add_part(e.name, role, part, tensor(f.file().view(part)));
        compressed_entry& d = entries_[e.name];
        d = e;
    }

    const std::map<std::string, compressed_entry>& entries() const noexcept { return entries_; }
    const std::map<std::string, tensor>& parts() const noexcept { return parts_; }

    /// For codecs: records a part tensor of entry `name` under `role`.
    void add_part(const std::string& name, const std::string& role, const std::string& part_name, tensor t) {
        if (parts_.count(part_name)) {
            throw value_error("compressed model: the part '" + part_name + "' of tensor '" + name +
                              "' collides with another tensor of that name");
        }
        parts_.emplace(part_name, std::move(t));
        entries_[name].parts[role] = part_name;
    }
    /// For codecs: the entry being built.
    compressed_entry& entry(const std::string& name) {
        compressed_entry& e = entries_[name];
        e.name = name;
        return e;
    }

private:
    std::map<std::string, compressed_entry> entries_;
    std::map<std::string, tensor> parts_;
};

/// The "compress" metadata document of a model (JSON text).
inline std::string describe(const compressed_model& m) {
    using namespace detail::json;
    value root = make_object();
    root.members.emplace_back("format", make_string(compressed_format_name));
    root.members.emplace_back("version", make_uint(compressed_format_version));
    value tensors = make_object();
    for (const auto& [name, e] : m.entries()) {
        value d = make_object();
        d.members.emplace_back("representation", make_string(e.representation));
        value shape = make_array();
        for (auto s : e.shape) shape.items.push_back(make_uint(s));
        d.members.emplace_back("shape", shape);
        d.members.emplace_back("dtype", make_string(dtype_name(e.original_dtype)));
        value parts = make_object();
        for (const auto& [role, part] : e.parts) parts.members.emplace_back(role, make_string(part));
        d.members.emplace_back("parts", parts);
        value attrs = make_object();
        for (const auto& [k, v] : e.attributes) attrs.members.emplace_back(k, make_string(v));
        d.members.emplace_back("attributes", attrs);
        tensors.members.emplace_back(name, d);
    }
    root.members.emplace_back("tensors", tensors);
    return dump(root);
}

/// The safetensors bytes of a compressed model (`extra` metadata is kept beside the
/// description; its key "compress" is reserved).
inline std::vector<std::uint8_t> to_compressed_bytes(const compressed_model& m, metadata_map extra = {}) {
    if (extra.count(compressed_metadata_key)) {
        throw value_error(std::string("compressed model: the metadata key '") + compressed_metadata_key + "' is reserved");
    }
    extra[compressed_metadata_key] = describe(m);
    return to_safetensors_bytes(m.parts(), extra);
}

/// Writes a compressed model atomically.
inline void save_compressed(const std::string& path, const compressed_model& m, metadata_map extra = {}) {
    if (extra.count(compressed_metadata_key)) {
        throw value_error(std::string("compressed model: the metadata key '") + compressed_metadata_key + "' is reserved");
    }
    extra[compressed_metadata_key] = describe(m);
    save_safetensors(path, m.parts(), extra);
}

/// An opened compressed model. A plain safetensors file (no "compress" metadata) opens as a
/// model whose tensors are all dense.
class compressed_file {
public:
    compressed_file() = default;

    /// Validates the description against the file. Throws format_error.
    explicit compressed_file(safetensors_file file) : file_(std::move(file)) {
        const auto& md = file_.metadata();
        auto it = md.find(compressed_metadata_key);
        if (it == md.end()) {
            for (const auto& t : file_.tensors()) {
                compressed_entry e;
                e.name = t.name;
                e.representation = "dense";
                e.shape = t.shape;
                e.original_dtype = t.type;
                e.parts["values"] = t.name;
                index_.emplace(t.name, entries_.size());
                entries_.push_back(std::move(e));
            }
            return;
        }
        plain_ = false;
        parse_description(it->second);
    }

    /// True when the file had no "compress" description (every tensor dense).
    bool plain() const noexcept { return plain_; }
    const std::vector<compressed_entry>& entries() const noexcept { return entries_; }
    bool contains(const std::string& name) const { return index_.count(name) != 0; }
    const compressed_entry& entry(const std::string& name) const {
        auto it = index_.find(name);
        if (it == index_.end()) throw format_error("compressed model '" + origin() + "' has no tensor named '" + name + "'");
        return entries_[it->second];
    }
    const safetensors_file& file() const noexcept { return file_; }
    const std::string& origin() const noexcept { return file_.origin(); }
    /// Metadata other than the description.
    metadata_map user_metadata() const {
        metadata_map m = file_.metadata();
        m.erase(compressed_metadata_key);
        return m;
    }

    /// Loads entry `name` as representation R: xt::xtensor<T, N> (a dense entry),
    /// masked_tensor<T, N>, quantized_tensor<F, M, G, N, S>. Throws format_error when the
    /// entry is stored in another representation or scheme, or its parts are inconsistent.
    template <class R>
    R get(const std::string& name) const {
        return detail::codec<R>::load(*this, entry(name));
    }

    /// A part of an entry, checked for dtype and shape (for codecs).
    tensor_view part(const compressed_entry& e, const std::string& role, dtype type, const shape_type& shape) const {
        auto it = e.parts.find(role);
        if (it == e.parts.end()) detail::entry_fail(origin(), e.name, "missing part '" + role + "'");
        const tensor_view v = file_.view(it->second);
        if (v.type() != type) {
            detail::entry_fail(origin(), e.name, "part '" + role + "' ('" + it->second + "') is " + dtype_name(v.type()) +
                                                     ", expected " + dtype_name(type));
        }
        if (v.shape() != shape) {
            detail::entry_fail(origin(), e.name, "part '" + role + "' ('" + it->second + "') has shape " +
                                                     detail::shape_str(v.shape()) + ", expected " + detail::shape_str(shape));
        }
        return v;
    }

private:
    void parse_description(const std::string& text) {
        using namespace detail::json;
        const std::string ctx = "compressed model '" + origin() + "': description";
        auto fail = [&](const std::string& what) -> format_error { return format_error(ctx + ": " + what); };
        const value root = parse(text, ctx);
        if (!root.is_object()) throw fail("must be a JSON object");
        const value* fmt = root.find("format");
        if (!fmt || !fmt->is_string() || fmt->text != compressed_format_name) {
            throw fail(std::string("\"format\" must be \"") + compressed_format_name + "\"");
        }
        const value* ver = root.find("version");
        std::uint64_t version = 0;
        if (!ver || !ver->as_u64(version) || version == 0) throw fail("\"version\" must be a positive integer");
        if (version > static_cast<std::uint64_t>(compressed_format_version)) {
            throw fail("version " + std::to_string(version) + " is newer than this reader (version " +
                       std::to_string(compressed_format_version) + ")");
        }
        const value* tensors = root.find("tensors");
        if (!tensors || !tensors->is_object()) throw fail("\"tensors\" must be an object");
        for (const auto& m : root.members) {
            if (m.first != "format" && m.first != "version" && m.first != "tensors") throw fail("unknown field '" + m.first + "'");
        }
        std::map<std::string, std::string> owner;  // file tensor → entry
        for (const auto& [name, d] : tensors->members) {
            const std::string where = "tensor '" + name + "'";
            if (!d.is_object()) throw fail(where + ": must be an object");
            compressed_entry e;
            e.name = name;
            const value* rep = nullptr;
            const value* shape = nullptr;
            const value* dt = nullptr;
            const value* parts = nullptr;
            const value* attrs = nullptr;
            for (const auto& [k, v] : d.members) {
                if (k == "representation") rep = &v;
                else if (k == "shape") shape = &v;
                else if (k == "dtype") dt = &v;
                else if (k == "parts") parts = &v;
                else if (k == "attributes") attrs = &v;
                else throw fail(where + ": unknown field '" + k + "'");
            }
            if (!rep || !rep->is_string()) throw fail(where + ": \"representation\" must be a string");
            e.representation = rep->text;
            if (!known_representation(e.representation)) {
                throw fail(where + ": unknown representation '" + e.representation + "'");
            }
            if (!shape || !shape->is_array() || shape->items.size() > 64) {
                throw fail(where + ": \"shape\" must be an array of at most 64 non-negative integers");
            }
            for (const auto& s : shape->items) {
                std::uint64_t v = 0;
                if (!s.as_u64(v)) throw fail(where + ": \"shape\" must be an array of at most 64 non-negative integers");
                e.shape.push_back(static_cast<std::size_t>(v));
            }
            std::size_t total = 0;
            if (!detail::checked_nbytes(e.shape, 8, total)) throw fail(where + ": shape " + detail::shape_str(e.shape) + " overflows");
            if (!dt || !dt->is_string() || !parse_dtype(dt->text, e.original_dtype)) {
                throw fail(where + ": \"dtype\" must be a safetensors dtype name");
            }
            if (!parts || !parts->is_object() || parts->members.empty()) throw fail(where + ": \"parts\" must be a non-empty object");
            for (const auto& [role, pv] : parts->members) {
                if (!pv.is_string()) throw fail(where + ": part '" + role + "' must name a tensor");
                if (!file_.contains(pv.text)) throw fail(where + ": part '" + role + "' names '" + pv.text + "', which the file does not hold");
                auto [oit, fresh] = owner.emplace(pv.text, name);
                if (!fresh) throw fail(where + ": part '" + role + "' ('" + pv.text + "') is also a part of tensor '" + oit->second + "'");
                e.parts[role] = pv.text;
            }
            if (attrs) {
                if (!attrs->is_object()) throw fail(where + ": \"attributes\" must be an object of strings");
                for (const auto& [k, v] : attrs->members) {
                    if (!v.is_string()) throw fail(where + ": attribute '" + k + "' must be a string");
                    e.attributes[k] = v.text;
                }
            }
            check_roles(e, fail);
            index_.emplace(name, entries_.size());
            entries_.push_back(std::move(e));
        }
        for (const auto& t : file_.tensors()) {
            if (!owner.count(t.name)) throw fail("file tensor '" + t.name + "' is not part of any described tensor");
        }
    }

    static bool known_representation(const std::string& r) {
        return r == "dense" || r == "masked" || r == "quantized" || r == "csr" || r == "bsr" || r == "n_of_m";
    }

    template <class F>
    void check_roles(const compressed_entry& e, F& fail) const {
        std::vector<std::string> need, optional;
        if (e.representation == "dense") need = {"values"};
        else if (e.representation == "masked") need = {"values", "mask"};
        else if (e.representation == "quantized") { need = {"codes", "scales"}; optional = {"zero_points"}; }
        else if (e.representation == "csr" || e.representation == "bsr") need = {"values", "col_indices", "row_ptr"};
        else if (e.representation == "n_of_m") need = {"values", "indices"};
        for (const auto& r : need) {
            if (!e.parts.count(r)) throw fail("tensor '" + e.name + "': " + e.representation + " needs a part '" + r + "'");
        }
        for (const auto& [role, part] : e.parts) {
            bool ok = false;
            for (const auto& r : need) ok = ok || r == role;
            for (const auto& r : optional) ok = ok || r == role;
            if (!ok) throw fail("tensor '" + e.name + "': unknown part '" + role + "' for " + e.representation);
        }
        if (e.representation == "dense") {
            const auto& v = file_.info(e.parts.at("values"));
            if (v.shape != e.shape || v.type != e.original_dtype) {
                throw fail("tensor '" + e.name + "': dense values are " + dtype_name(v.type) + " " +
                           detail::shape_str(v.shape) + ", described as " + dtype_name(e.original_dtype) + " " +
                           detail::shape_str(e.shape));
            }
        }
    }

    safetensors_file file_;
    std::vector<compressed_entry> entries_;
    std::map<std::string, std::size_t> index_;
    bool plain_ = true;
};

/// Opens a compressed model (or a plain safetensors file, every tensor dense).
inline compressed_file load_compressed(const std::string& path, map_mode mode = map_mode::automatic) {
    return compressed_file(load_safetensors(path, mode));
}
/// Opens a compressed model held in memory.
inline compressed_file read_compressed(std::vector<std::uint8_t> bytes, const std::string& origin = "memory") {
    return compressed_file(read_safetensors(std::move(bytes), origin));
}

}  // namespace compress::io

namespace compress::detail {

inline void expect_representation(const io::compressed_file& f, const io::compressed_entry& e, const char* rep,
                                  const std::string& wanted) {
    if (e.representation != rep) {
        entry_fail(f.origin(), e.name, "stored as " + scheme_of(e) + ", asked for " + wanted);
    }
}

template <std::size_t N>
std::array<std::size_t, N> shape_array(const io::compressed_file& f, const io::compressed_entry& e) {
    if (e.shape.size() != N) {
        entry_fail(f.origin(), e.name, "has rank " + std::to_string(e.shape.size()) + " (shape " + shape_str(e.shape) +
                                           "), asked for rank " + std::to_string(N));
    }
    std::array<std::size_t, N> s{};
    for (std::size_t d = 0; d < N; ++d) s[d] = e.shape[d];
    return s;
}

// ---------------------------------------------------------------- dense
template <class T, std::size_t N>
struct codec<xt::xtensor<T, N>> {
    static xt::xtensor<T, N> load(const io::compressed_file& f, const io::compressed_entry& e) {
        expect_representation(f, e, "dense", std::string("dense ") + io::dtype_name(io::dtype_of<T>));
        shape_array<N>(f, e);
        return f.file().view(e.parts.at("values")).template get<T, N>();
    }
};

// ---------------------------------------------------------------- masked
template <class T, std::size_t N>
struct codec<io::masked_tensor<T, N>> {
    static void store(io::compressed_model& m, const std::string& name, const io::masked_tensor<T, N>& t) {
        if (t.values.shape() != t.keep.flags().shape()) {
            throw shape_error("compressed model: tensor '" + name + "': mask of shape " + shape_str(t.keep.shape()) +
                              " does not fit values of shape " + shape_str(t.values.shape()));
        }
        const auto packed = t.keep.pack();
        std::vector<std::uint8_t> words(packed.words.size() * 8);
        for (std::size_t i = 0; i < packed.words.size(); ++i) store_le<std::uint64_t>(words.data() + 8 * i, packed.words[i]);
        m.add_part(name, "values", name, io::tensor(t.values));
        m.add_part(name, "mask", name + ".mask", io::tensor(io::dtype::u64, {packed.words.size()}, std::move(words)));
        auto& e = m.entry(name);
        e.representation = "masked";
        e.original_dtype = io::dtype_of<T>;
        e.shape.assign(t.values.shape().begin(), t.values.shape().end());
        e.attributes["sparsity"] = std::to_string(t.keep.sparsity());
    }
    static io::masked_tensor<T, N> load(const io::compressed_file& f, const io::compressed_entry& e) {
        expect_representation(f, e, "masked", "masked");
        const auto shape = shape_array<N>(f, e);
        io::masked_tensor<T, N> out;
        out.values = f.part(e, "values", e.original_dtype, e.shape).template get<T, N>();
        const std::size_t n = e.size();
        const auto words = f.part(e, "mask", io::dtype::u64, {(n + 63) / 64}).template get<std::uint64_t, 1>();
        packed_mask<N> p;
        p.shape = shape;
        p.words.assign(words.begin(), words.end());
        try {
            out.keep = mask<N>::unpack(p);
        } catch (const format_error& err) {
            entry_fail(f.origin(), e.name, err.what());
        }
        // pruned entries must be zero: the mask describes the values
        const T* v = out.values.data();
        for (std::size_t i = 0; i < n; ++i) {
            if (!out.keep[i] && v[i] != T(0)) {
                entry_fail(f.origin(), e.name, "value at " + index_str(e.shape, i) + " is pruned by the mask but not zero");
            }
        }
        return out;
    }
};

// ---------------------------------------------------------------- quantized
template <class F>
inline std::string format_name() {
    if constexpr (F::family == format_family::pow2) return "pow2<" + std::to_string(F::bits) + ">";
    else return F::name();
}

template <class G>
inline std::map<std::string, std::string> granularity_attributes() {
    std::map<std::string, std::string> a;
    a["granularity"] = G::name();
    if constexpr (G::kind == granularity_kind::channel) a["axis"] = std::to_string(G::axis);
    if constexpr (G::kind == granularity_kind::group) {
        a["group_size"] = std::to_string(G::group_size);
        a["partial_groups"] = G::allow_partial ? "allow" : "reject";
    }
    return a;
}

template <class F, class M, class G, std::size_t N, class S>
struct codec<quantized_tensor<F, M, G, N, S>> {
    using Q = quantized_tensor<F, M, G, N, S>;

    static std::map<std::string, std::string> attributes() {
        auto a = granularity_attributes<G>();
        a["format"] = format_name<F>();
        a["mapping"] = M::name();
        a["scale_format"] = std::is_same_v<S, float> ? "float" : "fp16";
        return a;
    }
    static std::string scheme() {
        io::compressed_entry e;
        e.representation = "quantized";
        e.attributes = attributes();
        return scheme_of(e);
    }

    static void store(io::compressed_model& m, const std::string& name, const Q& q) {
        std::vector<std::uint8_t> codes(q.codes(), q.codes() + q.code_bytes());
        m.add_part(name, "codes", name + ".codes", io::tensor(io::dtype::u8, {q.rows(), q.row_stride()}, std::move(codes)));
        const io::shape_type sshape(q.scale_shape().begin(), q.scale_shape().end());
        std::vector<std::uint8_t> sb(q.num_scales() * sizeof(typename Q::scale_type));
        for (std::size_t i = 0; i < q.num_scales(); ++i) store_le(sb.data() + i * sizeof(typename Q::scale_type), q.scales()[i]);
        m.add_part(name, "scales", name + ".scales",
                   io::tensor(std::is_same_v<S, float> ? io::dtype::f32 : io::dtype::f16, sshape, std::move(sb)));
        if constexpr (Q::has_zero_points) {
            std::vector<std::uint8_t> zb(q.num_zero_points());
            std::memcpy(zb.data(), q.zero_points(), zb.size());
            m.add_part(name, "zero_points", name + ".zero_points",
                       io::tensor(F::is_signed ? io::dtype::i8 : io::dtype::u8, sshape, std::move(zb)));
        }
        auto& e = m.entry(name);
        e.representation = "quantized";
        e.original_dtype = io::dtype::f32;
        e.shape.assign(q.shape().begin(), q.shape().end());
        e.attributes = attributes();
    }

    static Q load(const io::compressed_file& f, const io::compressed_entry& e) {
        expect_representation(f, e, "quantized", scheme());
        if (e.attributes != attributes()) entry_fail(f.origin(), e.name, "stored as " + scheme_of(e) + ", asked for " + scheme());
        const auto shape = shape_array<N>(f, e);
        // The parts are checked against the described shape before anything of that shape is
        // allocated: they exist in the file, so a hostile description cannot make the reader
        // allocate more than the file holds (block_layout itself allocates nothing large).
        block_layout<G, N> layout;
        try {
            layout = block_layout<G, N>(shape);
        } catch (const shape_error& err) {
            entry_fail(f.origin(), e.name, err.what());
        }
        if (layout.cols > std::numeric_limits<std::size_t>::max() / 16) {
            entry_fail(f.origin(), e.name, "shape " + shape_str(e.shape) + " is too large");
        }
        const auto codes = f.part(e, "codes", io::dtype::u8, {layout.rows, packed_row_bytes<F>(layout.cols)});
        const io::shape_type sshape(layout.slot_shape.begin(), layout.slot_shape.end());
        const auto sv = f.part(e, "scales", std::is_same_v<S, float> ? io::dtype::f32 : io::dtype::f16, sshape);
        std::vector<typename Q::scale_type> scales(layout.slots);
        for (std::size_t i = 0; i < scales.size(); ++i) {
            scales[i] = load_le<typename Q::scale_type>(sv.data() + i * sizeof(typename Q::scale_type));
        }
        std::vector<typename Q::zero_point_type> zps;
        if constexpr (Q::has_zero_points) {
            const auto zv = f.part(e, "zero_points", F::is_signed ? io::dtype::i8 : io::dtype::u8, sshape);
            zps.resize(layout.slots);
            if (!zps.empty()) std::memcpy(zps.data(), zv.data(), zps.size());
        } else if (e.parts.count("zero_points")) {
            entry_fail(f.origin(), e.name, "a symmetric tensor has no zero points, but the file has a part 'zero_points'");
        }
        try {
            return Q::from_parts(shape, codes.data(), codes.nbytes(), scales, zps);
        } catch (const format_error& err) {
            entry_fail(f.origin(), e.name, err.what());
        }
    }
};

}  // namespace compress::detail
