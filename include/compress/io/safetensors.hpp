#pragma once
// safetensors files: an 8-byte little-endian header length N, N bytes of JSON
// {"__metadata__": {str: str}, "name": {"dtype": "F32", "shape": [..], "data_offsets": [b, e]}, ...},
// then the tensors' bytes (little-endian, row-major), offsets relative to the end of the header.
//
// Reading validates everything before any tensor is touched: header size limits, strict JSON
// (UTF-8 names, no duplicates), known dtypes, shapes × dtype size = byte length, offsets in
// bounds, sorted, without overlaps or gaps, covering the data exactly. Large files are
// memory-mapped, not copied. Writing is atomic (temporary file + rename).

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "../core/error.hpp"
#include "file.hpp"
#include "json.hpp"
#include "tensor.hpp"

namespace compress::io {

/// Largest safetensors JSON header accepted (the reference implementation's limit).
inline constexpr std::size_t safetensors_max_header = 100000000;

/// Where one tensor lives in a safetensors file.
struct tensor_info {
    std::string name;
    dtype type = dtype::f32;
    shape_type shape;
    std::size_t begin = 0;  ///< byte offset in the data section (after the header)
    std::size_t end = 0;    ///< one past the last byte
    std::size_t nbytes() const noexcept { return end - begin; }
    std::size_t size() const noexcept { return detail::element_count(shape); }
};

using metadata_map = std::map<std::string, std::string>;

/// The validated header of a safetensors file.
struct safetensors_header {
    std::vector<tensor_info> tensors;  ///< sorted by offset (the order of the data)
    metadata_map metadata;             ///< the "__metadata__" object (empty when absent)
    std::size_t data_start = 0;        ///< 8 + header length: where the data section starts
};

/// Validates the header of a complete safetensors file held in `data[0, size)` (the data
/// section too: offsets are checked against it). Throws format_error naming `origin` and the
/// problem. Pure function over a byte span: fuzz targets call it directly.
inline safetensors_header parse_safetensors_header(const void* data, std::size_t size,
                                                   const std::string& origin = "memory") {
    const auto* p = static_cast<const std::uint8_t*>(data);
    const std::string ctx = "safetensors '" + origin + "'";
    auto fail = [&](const std::string& what) -> format_error { return format_error(ctx + ": " + what); };
    if (size < 8) {
        throw fail("truncated: " + std::to_string(size) +
                   " bytes, a safetensors file starts with an 8-byte header length");
    }
    const std::uint64_t hlen = detail::load_le<std::uint64_t>(p);
    if (hlen > safetensors_max_header) {
        throw fail("declared header length " + std::to_string(hlen) + " exceeds the limit of " +
                   std::to_string(safetensors_max_header) + " bytes");
    }
    if (hlen > size - 8) {
        throw fail("truncated header: declares " + std::to_string(hlen) + " bytes, " + std::to_string(size - 8) +
                   " present");
    }
    if (hlen < 2 || p[8] != '{') throw fail("the header must be a JSON object starting with '{'");
    const std::size_t header_len = static_cast<std::size_t>(hlen);
    const detail::json::value root = detail::json::parse(p + 8, header_len, ctx + " header");
    if (!root.is_object()) throw fail("the header must be a JSON object");

    safetensors_header out;
    out.data_start = 8 + header_len;
    const std::size_t data_size = size - out.data_start;
    for (const auto& [key, val] : root.members) {
        if (key == "__metadata__") {
            if (!val.is_object()) throw fail("__metadata__ must be an object of strings, got " + std::string(detail::json::kind_name(val.type)));
            for (const auto& [mk, mv] : val.members) {
                if (!mv.is_string()) {
                    throw fail("__metadata__ value of '" + mk + "' must be a string, got " +
                               detail::json::kind_name(mv.type));
                }
                out.metadata.emplace(mk, mv.text);
            }
            continue;
        }
        const std::string where = "tensor '" + key + "'";
        if (!val.is_object()) throw fail(where + ": entry must be an object, got " + detail::json::kind_name(val.type));
        tensor_info info;
        info.name = key;
        const detail::json::value* dt = nullptr;
        const detail::json::value* sh = nullptr;
        const detail::json::value* off = nullptr;
        for (const auto& [fk, fv] : val.members) {
            if (fk == "dtype") dt = &fv;
            else if (fk == "shape") sh = &fv;
            else if (fk == "data_offsets") off = &fv;
            else throw fail(where + ": unknown field '" + fk + "' (expected dtype, shape, data_offsets)");
        }
        if (!dt) throw fail(where + ": missing field 'dtype'");
        if (!sh) throw fail(where + ": missing field 'shape'");
        if (!off) throw fail(where + ": missing field 'data_offsets'");
        if (!dt->is_string()) throw fail(where + ": 'dtype' must be a string");
        if (!parse_dtype(dt->text, info.type)) {
            throw fail(where + ": unknown dtype '" + dt->text +
                       "' (known: BOOL, U8, I8, U16, I16, U32, I32, U64, I64, F16, BF16, F32, F64, F8_E4M3, F8_E5M2)");
        }
        if (!sh->is_array()) throw fail(where + ": 'shape' must be an array of non-negative integers");
        if (sh->items.size() > 64) throw fail(where + ": rank " + std::to_string(sh->items.size()) + " above 64");
        for (const auto& d : sh->items) {
            std::uint64_t v = 0;
            if (!d.as_u64(v)) throw fail(where + ": 'shape' must be an array of non-negative integers");
            info.shape.push_back(static_cast<std::size_t>(v));
        }
        if (!off->is_array() || off->items.size() != 2) {
            throw fail(where + ": 'data_offsets' must be an array [begin, end] of two non-negative integers");
        }
        std::uint64_t b = 0, e = 0;
        if (!off->items[0].as_u64(b) || !off->items[1].as_u64(e)) {
            throw fail(where + ": 'data_offsets' must be an array [begin, end] of two non-negative integers");
        }
        if (e < b) {
            throw fail(where + ": data_offsets [" + std::to_string(b) + ", " + std::to_string(e) + "] end before they begin");
        }
        if (e > data_size) {
            throw fail(where + ": data_offsets [" + std::to_string(b) + ", " + std::to_string(e) +
                       "] point past the end of the data section (" + std::to_string(data_size) + " bytes)");
        }
        info.begin = static_cast<std::size_t>(b);
        info.end = static_cast<std::size_t>(e);
        std::size_t need = 0;
        if (!detail::checked_nbytes(info.shape, dtype_size(info.type), need)) {
            throw fail(where + ": shape " + detail::shape_str(info.shape) + " of " + dtype_name(info.type) +
                       " overflows the address space");
        }
        if (need != info.nbytes()) {
            throw fail(where + ": shape " + detail::shape_str(info.shape) + " of " + dtype_name(info.type) + " needs " +
                       std::to_string(need) + " bytes, data_offsets [" + std::to_string(b) + ", " +
                       std::to_string(e) + "] hold " + std::to_string(info.nbytes()));
        }
        out.tensors.push_back(std::move(info));
    }
    std::sort(out.tensors.begin(), out.tensors.end(), [](const tensor_info& a, const tensor_info& b) {
        return a.begin != b.begin ? a.begin < b.begin : (a.end != b.end ? a.end < b.end : a.name < b.name);
    });
    std::size_t expected = 0;
    const tensor_info* prev = nullptr;
    for (const auto& t : out.tensors) {
        if (t.begin < expected) {
            throw fail("tensor '" + t.name + "' [" + std::to_string(t.begin) + ", " + std::to_string(t.end) +
                       ") overlaps tensor '" + prev->name + "' [" + std::to_string(prev->begin) + ", " +
                       std::to_string(prev->end) + ")");
        }
        if (t.begin > expected) {
            throw fail(std::to_string(t.begin - expected) + " unused bytes before tensor '" + t.name + "' at offset " +
                       std::to_string(expected) + " (tensors must be contiguous)");
        }
        expected = t.end;
        prev = &t;
    }
    if (expected != data_size) {
        throw fail(std::to_string(data_size - expected) + " bytes after the last tensor are not part of any tensor");
    }
    return out;
}

/// An opened safetensors file: the validated header and the bytes (memory-mapped for large
/// files). Views and typed reads of its tensors; copies are cheap (shared storage).
class safetensors_file {
public:
    safetensors_file() = default;
    safetensors_file(std::shared_ptr<const detail::byte_storage> storage, safetensors_header header)
        : storage_(std::move(storage)), header_(std::move(header)) {
        for (std::size_t i = 0; i < header_.tensors.size(); ++i) index_.emplace(header_.tensors[i].name, i);
    }

    /// Tensors in file order (by offset).
    const std::vector<tensor_info>& tensors() const noexcept { return header_.tensors; }
    std::size_t size() const noexcept { return header_.tensors.size(); }
    /// Tensor names in file order.
    std::vector<std::string> names() const {
        std::vector<std::string> n;
        for (const auto& t : header_.tensors) n.push_back(t.name);
        return n;
    }
    bool contains(const std::string& name) const { return index_.count(name) != 0; }
    /// Throws format_error when the file has no such tensor.
    const tensor_info& info(const std::string& name) const {
        auto it = index_.find(name);
        if (it == index_.end()) throw format_error("safetensors '" + origin() + "' has no tensor named '" + name + "'");
        return header_.tensors[it->second];
    }
    /// A view of the tensor's bytes (no copy).
    tensor_view view(const std::string& name) const {
        const auto& i = info(name);
        return tensor_view(i.name, i.type, i.shape, storage_->data() + header_.data_start + i.begin, i.nbytes(), storage_);
    }
    tensor_view operator[](const std::string& name) const { return view(name); }

    /// Exact typed read (see tensor_view::get): format_error for a missing tensor or a dtype
    /// T cannot hold exactly, shape_error for another rank.
    template <class T, std::size_t N>
    xt::xtensor<T, N> get(const std::string& name) const { return view(name).template get<T, N>(); }
    template <class T>
    xt::xarray<T> get(const std::string& name) const { return view(name).template get<T>(); }
    /// Converting typed read (see tensor_view::get_as).
    template <class T, std::size_t N>
    xt::xtensor<T, N> get_as(const std::string& name) const { return view(name).template get_as<T, N>(); }
    template <class T>
    xt::xarray<T> get_as(const std::string& name) const { return view(name).template get_as<T>(); }

    const metadata_map& metadata() const noexcept { return header_.metadata; }
    const safetensors_header& header() const noexcept { return header_; }
    /// True when the file is memory-mapped rather than read into memory.
    bool mapped() const noexcept { return storage_ && storage_->mapped(); }
    std::size_t file_size() const noexcept { return storage_ ? storage_->size() : 0; }
    const std::string& origin() const noexcept {
        static const std::string none = "(none)";
        return storage_ ? storage_->origin() : none;
    }

private:
    std::shared_ptr<const detail::byte_storage> storage_;
    safetensors_header header_;
    std::map<std::string, std::size_t> index_;
};

/// Opens and validates a safetensors file (memory-mapped when at least io::mmap_threshold
/// bytes under map_mode::automatic). Throws io_error when it cannot be read, format_error
/// when it is malformed.
inline safetensors_file load_safetensors(const std::string& path, map_mode mode = map_mode::automatic) {
    auto storage = detail::byte_storage::open(path, mode);
    auto header = parse_safetensors_header(storage->data(), storage->size(), path);
    return safetensors_file(std::move(storage), std::move(header));
}

/// Validates a safetensors file held in memory (the bytes are moved into the result).
inline safetensors_file read_safetensors(std::vector<std::uint8_t> bytes, const std::string& origin = "memory") {
    auto storage = detail::byte_storage::from_buffer(std::move(bytes), origin);
    auto header = parse_safetensors_header(storage->data(), storage->size(), origin);
    return safetensors_file(std::move(storage), std::move(header));
}

namespace detail_st {

inline void write_safetensors(detail::byte_sink& out, std::vector<tensor_view> tensors, const metadata_map& metadata) {
    for (const auto& t : tensors) {
        if (t.name() == "__metadata__") throw value_error("safetensors: '__metadata__' cannot be a tensor name");
        if (!detail::json::is_utf8(t.name())) throw value_error("safetensors: tensor name is not valid UTF-8");
        std::size_t need = 0;
        if (!detail::checked_nbytes(t.shape(), dtype_size(t.type()), need) || need != t.nbytes()) {
            throw shape_error("safetensors: tensor '" + t.name() + "' has " + std::to_string(t.nbytes()) +
                              " bytes for shape " + detail::shape_str(t.shape()) + " of " + dtype_name(t.type()));
        }
    }
    // Larger elements first, then by name: every tensor starts at a multiple of its element
    // size (the header is padded to 8 bytes), so mapped data is aligned.
    std::sort(tensors.begin(), tensors.end(), [](const tensor_view& a, const tensor_view& b) {
        const auto sa = dtype_size(a.type()), sb = dtype_size(b.type());
        return sa != sb ? sa > sb : a.name() < b.name();
    });
    for (std::size_t i = 1; i < tensors.size(); ++i) {
        if (tensors[i].name() == tensors[i - 1].name()) {
            throw value_error("safetensors: two tensors named '" + tensors[i].name() + "'");
        }
    }
    std::string h = "{";
    bool first = true;
    if (!metadata.empty()) {
        h += "\"__metadata__\":{";
        for (auto it = metadata.begin(); it != metadata.end(); ++it) {
            if (!detail::json::is_utf8(it->first) || !detail::json::is_utf8(it->second)) {
                throw value_error("safetensors: metadata entries must be valid UTF-8");
            }
            if (it != metadata.begin()) h += ',';
            detail::json::write_string(h, it->first);
            h += ':';
            detail::json::write_string(h, it->second);
        }
        h += '}';
        first = false;
    }
    std::size_t offset = 0;
    for (const auto& t : tensors) {
        if (!first) h += ',';
        first = false;
        detail::json::write_string(h, t.name());
        h += ":{\"dtype\":\"";
        h += dtype_name(t.type());
        h += "\",\"shape\":[";
        for (std::size_t d = 0; d < t.shape().size(); ++d) {
            if (d) h += ',';
            h += std::to_string(t.shape()[d]);
        }
        h += "],\"data_offsets\":[" + std::to_string(offset) + "," + std::to_string(offset + t.nbytes()) + "]}";
        offset += t.nbytes();
    }
    h += '}';
    h.append((8 - h.size() % 8) % 8, ' ');
    if (h.size() > safetensors_max_header) {
        throw value_error("safetensors: the header would be " + std::to_string(h.size()) + " bytes, above the limit of " +
                          std::to_string(safetensors_max_header));
    }
    std::uint8_t len[8];
    detail::store_le<std::uint64_t>(len, h.size());
    out.write(len, 8);
    out.write(h.data(), h.size());
    for (const auto& t : tensors) out.write(t.data(), t.nbytes());
}

inline std::vector<tensor_view> views_of(const std::map<std::string, tensor>& tensors) {
    std::vector<tensor_view> v;
    v.reserve(tensors.size());
    for (const auto& [name, t] : tensors) v.push_back(t.view(name));
    return v;
}

}  // namespace detail_st

/// The bytes of a safetensors file holding `tensors` (named views) and `metadata`.
/// Throws value_error for invalid names (not UTF-8, '__metadata__', duplicates).
inline std::vector<std::uint8_t> to_safetensors_bytes(const std::vector<tensor_view>& tensors,
                                                      const metadata_map& metadata = {}) {
    detail::buffer_sink sink;
    detail_st::write_safetensors(sink, tensors, metadata);
    return std::move(sink.bytes);
}
inline std::vector<std::uint8_t> to_safetensors_bytes(const std::map<std::string, tensor>& tensors,
                                                      const metadata_map& metadata = {}) {
    return to_safetensors_bytes(detail_st::views_of(tensors), metadata);
}

/// Writes a safetensors file atomically: a temporary file beside `path`, renamed over it once
/// complete, so a failure never leaves a half-written output. Tensors are given as named
/// views (e.g. straight from another safetensors_file, without copying).
inline void save_safetensors(const std::string& path, const std::vector<tensor_view>& tensors,
                             const metadata_map& metadata = {}) {
    detail::atomic_file f(path);
    detail_st::write_safetensors(f, tensors, metadata);
    f.commit();
}

/// Writes a safetensors file atomically from named tensors, e.g.
/// `save_safetensors("m.safetensors", {{"fc1.weight", w1}, {"fc1.bias", b1}}, {{"epoch", "3"}})`.
inline void save_safetensors(const std::string& path, const std::map<std::string, tensor>& tensors,
                             const metadata_map& metadata = {}) {
    save_safetensors(path, detail_st::views_of(tensors), metadata);
}

}  // namespace compress::io
