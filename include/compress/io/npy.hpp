#pragma once
// NumPy .npy files: versions 1.0, 2.0 and 3.0; bool, (u)int8..64, float16/32/64; little- and
// big-endian; C and Fortran order. Reading validates the whole header and the data size;
// writing is atomic.

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "../core/error.hpp"
#include "file.hpp"
#include "json.hpp"
#include "tensor.hpp"

namespace compress::io {

/// Byte order of the data written to a file.
enum class byte_order { little, big };

/// Options of save_npy / to_npy_bytes.
struct npy_options {
    byte_order order = byte_order::little;  ///< '<' or '>' in the descr
    bool fortran_order = false;             ///< write the data column-major (fortran_order: True)
};

/// Largest .npy header accepted by the reader (NumPy itself refuses headers above 10000
/// bytes by default; a rank-64 shape with 20-digit extents fits in well under this).
inline constexpr std::size_t npy_max_header = 65536;

}  // namespace compress::io

namespace compress::detail {

/// Copies `count` elements of `elem` bytes between C (row-major) and Fortran (column-major)
/// order. to_fortran: src is C order, dst F order; otherwise the reverse.
inline void reorder_c_fortran(const std::uint8_t* src, std::uint8_t* dst, const io::shape_type& shape,
                              std::size_t elem, bool to_fortran) {
    const std::size_t n = element_count(shape);
    if (n == 0) return;
    const std::size_t rank = shape.size();
    if (rank <= 1) {
        std::memcpy(dst, src, n * elem);
        return;
    }
    std::vector<std::size_t> fstride(rank);
    std::size_t s = 1;
    for (std::size_t d = 0; d < rank; ++d) {
        fstride[d] = s;
        s *= shape[d];
    }
    std::vector<std::size_t> idx(rank, 0);
    std::size_t foff = 0;
    for (std::size_t i = 0; i < n; ++i) {
        if (to_fortran) std::memcpy(dst + foff * elem, src + i * elem, elem);
        else std::memcpy(dst + i * elem, src + foff * elem, elem);
        // advance the C-order odometer (last axis fastest), keeping the F offset in step
        for (std::size_t d = rank; d-- > 0;) {
            if (++idx[d] < shape[d]) {
                foff += fstride[d];
                break;
            }
            foff -= (shape[d] - 1) * fstride[d];
            idx[d] = 0;
        }
    }
}

/// The Python-literal subset NumPy writes in a .npy header:
/// {'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }
class npy_header_parser {
public:
    npy_header_parser(const char* p, std::size_t n, const std::string& origin) : p_(p), n_(n), origin_(origin) {}

    std::string descr;
    bool fortran = false;
    io::shape_type shape;

    void parse() {
        bool have_descr = false, have_fortran = false, have_shape = false;
        skip_ws();
        expect('{', "the header must be a Python dict starting with '{'");
        for (;;) {
            skip_ws();
            if (peek() == '}') { ++i_; break; }
            const std::string key = parse_str();
            skip_ws();
            expect(':', "expected ':' after a dict key");
            skip_ws();
            if (key == "descr") {
                if (have_descr) fail("duplicate key 'descr'");
                have_descr = true;
                if (peek() == '[') fail("structured dtypes (a list descr) are not supported");
                descr = parse_str();
            } else if (key == "fortran_order") {
                if (have_fortran) fail("duplicate key 'fortran_order'");
                have_fortran = true;
                fortran = parse_bool();
            } else if (key == "shape") {
                if (have_shape) fail("duplicate key 'shape'");
                have_shape = true;
                parse_shape();
            } else {
                fail("unexpected key '" + key + "' (a .npy header has exactly 'descr', 'fortran_order', 'shape')");
            }
            skip_ws();
            if (peek() == ',') { ++i_; continue; }
            if (peek() == '}') { ++i_; break; }
            fail("expected ',' or '}' in the header dict");
        }
        skip_ws();
        if (i_ != n_) fail("unexpected data after the header dict");
        if (!have_descr) fail("missing key 'descr'");
        if (!have_fortran) fail("missing key 'fortran_order'");
        if (!have_shape) fail("missing key 'shape'");
    }

private:
    [[noreturn]] void fail(const std::string& what) const {
        throw format_error(".npy '" + origin_ + "': bad header at byte " + std::to_string(i_) + ": " + what);
    }
    char peek() const { return i_ < n_ ? p_[i_] : '\0'; }
    void skip_ws() {
        while (i_ < n_ && (p_[i_] == ' ' || p_[i_] == '\t' || p_[i_] == '\n' || p_[i_] == '\r')) ++i_;
    }
    void expect(char c, const char* what) {
        if (peek() != c || i_ >= n_) fail(what);
        ++i_;
    }
    std::string parse_str() {
        const char q = peek();
        if (i_ >= n_ || (q != '\'' && q != '"')) fail("expected a quoted string");
        ++i_;
        const std::size_t start = i_;
        while (i_ < n_ && p_[i_] != q) {
            if (p_[i_] == '\\') fail("escapes in header strings are not supported");
            if (static_cast<unsigned char>(p_[i_]) < 0x20) fail("control character in a header string");
            ++i_;
        }
        if (i_ >= n_) fail("unterminated string");
        std::string s(p_ + start, i_ - start);
        ++i_;
        return s;
    }
    bool parse_bool() {
        if (n_ - i_ >= 4 && std::memcmp(p_ + i_, "True", 4) == 0) { i_ += 4; return true; }
        if (n_ - i_ >= 5 && std::memcmp(p_ + i_, "False", 5) == 0) { i_ += 5; return false; }
        fail("'fortran_order' must be True or False");
    }
    std::size_t parse_extent() {
        if (i_ >= n_ || p_[i_] < '0' || p_[i_] > '9') fail("shape extents must be non-negative integers");
        std::uint64_t v = 0;
        while (i_ < n_ && p_[i_] >= '0' && p_[i_] <= '9') {
            const auto d = static_cast<std::uint64_t>(p_[i_] - '0');
            if (v > (std::numeric_limits<std::uint64_t>::max() - d) / 10) fail("shape extent overflows 64 bits");
            v = v * 10 + d;
            ++i_;
        }
        if (peek() == 'L') ++i_;  // Python 2 long literal, written by old NumPy
        return static_cast<std::size_t>(v);
    }
    void parse_shape() {
        expect('(', "'shape' must be a tuple");
        skip_ws();
        if (peek() == ')') { ++i_; return; }
        for (;;) {
            skip_ws();
            shape.push_back(parse_extent());
            if (shape.size() > 64) fail("rank above 64");
            skip_ws();
            if (peek() == ',') {
                ++i_;
                skip_ws();
                if (peek() == ')') { ++i_; return; }
                continue;
            }
            if (peek() == ')') {
                // Python: "(3)" is the integer 3, not a tuple.
                if (shape.size() == 1) fail("'shape' must be a tuple; a one-element tuple is written (n,)");
                ++i_;
                return;
            }
            fail("expected ',' or ')' in 'shape'");
        }
    }

    const char* p_;
    std::size_t n_;
    std::size_t i_ = 0;
    const std::string& origin_;
};

/// Parses a NumPy descr ('<f4', '|b1', '>i8', ...). Returns the dtype and whether the data
/// is big-endian; throws format_error for anything else.
inline std::pair<io::dtype, bool> parse_npy_descr(const std::string& d, const std::string& origin) {
    auto bad = [&](const std::string& why) -> format_error {
        return format_error(".npy '" + origin + "': unsupported dtype '" + d + "': " + why);
    };
    if (d.size() < 2) throw bad("too short");
    const char order = d[0];
    if (order != '<' && order != '>' && order != '|' && order != '=') throw bad("expected a byte-order character <, >, | or =");
    const char kind = d[1];
    const std::string width = d.substr(2);
    std::size_t size = 0;
    if (width == "1") size = 1;
    else if (width == "2") size = 2;
    else if (width == "4") size = 4;
    else if (width == "8") size = 8;
    else if (kind == 'O') throw bad("object arrays (pickled Python objects) are never loaded");
    else throw bad("element size must be 1, 2, 4 or 8 bytes");
    io::dtype t;
    switch (kind) {
        case 'b':
            if (size != 1) throw bad("a bool is one byte");
            t = io::dtype::boolean;
            break;
        case 'i':
            t = size == 1 ? io::dtype::i8 : size == 2 ? io::dtype::i16 : size == 4 ? io::dtype::i32 : io::dtype::i64;
            break;
        case 'u':
            t = size == 1 ? io::dtype::u8 : size == 2 ? io::dtype::u16 : size == 4 ? io::dtype::u32 : io::dtype::u64;
            break;
        case 'f':
            if (size == 1) throw bad("there is no 1-byte NumPy float");
            t = size == 2 ? io::dtype::f16 : size == 4 ? io::dtype::f32 : io::dtype::f64;
            break;
        case 'c': throw bad("complex numbers are not supported");
        case 'O': throw bad("object arrays (pickled Python objects) are never loaded");
        default: throw bad("kind must be b (bool), i, u (integers) or f (float)");
    }
    if (order == '|' && size != 1) throw bad("'|' (not applicable) is only valid for 1-byte types");
    const bool big = order == '>' || (order == '=' && !host_little_endian);
    return {t, big && size > 1};
}

}  // namespace compress::detail

namespace compress::io {

/// Parses a complete .npy file held in memory. The result is row-major and little-endian
/// whatever the file's order and byte order. `origin` names the bytes in error messages.
/// Throws format_error on anything malformed: bad magic or version, truncated header or data,
/// a header that is not the dict NumPy writes, unsupported dtypes, a data size that is not
/// shape × element size (including overflowing shapes).
inline tensor parse_npy(const void* bytes, std::size_t size, const std::string& origin = "memory") {
    const auto* p = static_cast<const std::uint8_t*>(bytes);
    auto fail = [&](const std::string& what) -> format_error { return format_error(".npy '" + origin + "': " + what); };
    static const std::uint8_t magic[6] = {0x93, 'N', 'U', 'M', 'P', 'Y'};
    if (size < 6 || std::memcmp(p, magic, 6) != 0) throw fail("not a .npy file (missing the \\x93NUMPY magic)");
    if (size < 8) throw fail("truncated before the version bytes");
    const unsigned major = p[6], minor = p[7];
    if ((major != 1 && major != 2 && major != 3) || minor != 0) {
        throw fail("unsupported format version " + std::to_string(major) + "." + std::to_string(minor) +
                   " (1.0, 2.0 and 3.0 are known)");
    }
    const std::size_t len_bytes = major == 1 ? 2 : 4;
    if (size < 8 + len_bytes) throw fail("truncated before the header length");
    const std::size_t header_len = major == 1 ? detail::load_le<std::uint16_t>(p + 8) : detail::load_le<std::uint32_t>(p + 8);
    if (header_len > npy_max_header) {
        throw fail("header length " + std::to_string(header_len) + " exceeds the limit of " +
                   std::to_string(npy_max_header) + " bytes");
    }
    const std::size_t data_at = 8 + len_bytes + header_len;
    if (size < data_at) {
        throw fail("truncated header: declares " + std::to_string(header_len) + " bytes, " +
                   std::to_string(size - 8 - len_bytes) + " present");
    }
    const char* h = reinterpret_cast<const char*>(p + 8 + len_bytes);
    for (std::size_t k = 0; k < header_len; ++k) {
        const auto c = static_cast<unsigned char>(h[k]);
        if (c == 0 || (c >= 0x80 && major < 3)) throw fail("header has a non-ASCII byte at offset " + std::to_string(k));
    }
    if (major == 3 && !detail::json::is_utf8(std::string(h, header_len))) throw fail("header is not valid UTF-8");
    detail::npy_header_parser hp(h, header_len, origin);
    hp.parse();
    const auto [t, big] = detail::parse_npy_descr(hp.descr, origin);
    const std::size_t elem = dtype_size(t);
    std::size_t need = 0;
    if (!detail::checked_nbytes(hp.shape, elem, need)) {
        throw fail("shape " + detail::shape_str(hp.shape) + " of " + hp.descr + " overflows the address space");
    }
    const std::size_t have = size - data_at;
    if (have < need) {
        throw fail("truncated data: shape " + detail::shape_str(hp.shape) + " of " + hp.descr + " needs " +
                   std::to_string(need) + " bytes, " + std::to_string(have) + " present");
    }
    if (have > need) {
        throw fail(std::to_string(have - need) + " unexpected bytes after the data of shape " +
                   detail::shape_str(hp.shape) + " " + hp.descr);
    }
    std::vector<std::uint8_t> data(need);
    const std::size_t n = detail::element_count(hp.shape);
    if (hp.fortran) detail::reorder_c_fortran(p + data_at, data.data(), hp.shape, elem, false);
    else if (need) std::memcpy(data.data(), p + data_at, need);
    if (big) detail::byteswap_elements(data.data(), n, elem);
    return tensor(t, std::move(hp.shape), std::move(data));
}

inline tensor parse_npy(const std::vector<std::uint8_t>& bytes, const std::string& origin = "memory") {
    return parse_npy(bytes.data(), bytes.size(), origin);
}

/// Reads a .npy file (see parse_npy). Throws io_error when the file cannot be read.
inline tensor load_npy(const std::string& path) {
    auto storage = detail::byte_storage::open(path, map_mode::automatic);
    return parse_npy(storage->data(), storage->size(), path);
}

/// Reads a .npy file as an xt::xtensor<T, N> (exact reads only; see tensor_view::get).
template <class T, std::size_t N>
xt::xtensor<T, N> load_npy(const std::string& path) {
    return load_npy(path).view(path).template get<T, N>();
}

/// Reads a .npy file as an xt::xarray<T> (exact reads only).
template <class T>
xt::xarray<T> load_npy_array(const std::string& path) {
    return load_npy(path).view(path).template get<T>();
}

namespace detail_npy {
inline std::string descr_of(dtype t, byte_order order) {
    const char bo = dtype_size(t) == 1 ? '|' : (order == byte_order::little ? '<' : '>');
    switch (t) {
        case dtype::boolean: return "|b1";
        case dtype::u8: return "|u1";
        case dtype::i8: return "|i1";
        case dtype::u16: return std::string(1, bo) + "u2";
        case dtype::i16: return std::string(1, bo) + "i2";
        case dtype::u32: return std::string(1, bo) + "u4";
        case dtype::i32: return std::string(1, bo) + "i4";
        case dtype::u64: return std::string(1, bo) + "u8";
        case dtype::i64: return std::string(1, bo) + "i8";
        case dtype::f16: return std::string(1, bo) + "f2";
        case dtype::f32: return std::string(1, bo) + "f4";
        case dtype::f64: return std::string(1, bo) + "f8";
        default:
            throw value_error(std::string(".npy has no ") + dtype_name(t) +
                              " dtype (NumPy has no bfloat16 or float8); convert the tensor first");
    }
}

inline void write_npy(detail::byte_sink& out, const tensor_view& t, const npy_options& opt) {
    std::string header = "{'descr': '" + descr_of(t.type(), opt.order) +
                         "', 'fortran_order': " + (opt.fortran_order ? "True" : "False") + ", 'shape': (";
    for (std::size_t d = 0; d < t.shape().size(); ++d) {
        header += std::to_string(t.shape()[d]);
        if (t.shape().size() == 1 || d + 1 < t.shape().size()) header += ",";
        if (d + 1 < t.shape().size()) header += " ";
    }
    header += "), }";
    // Pad with spaces and a final newline so the data starts on a 64-byte boundary; version
    // 2.0 (4-byte header length) only when the header does not fit version 1.0's 2 bytes.
    std::size_t prefix = 10;
    unsigned major = 1;
    if ((prefix + header.size() + 1 + 63) / 64 * 64 - prefix > 65535) {
        major = 2;
        prefix = 12;
    }
    const std::size_t total = (prefix + header.size() + 1 + 63) / 64 * 64;
    header.append(total - prefix - header.size() - 1, ' ');
    header += '\n';
    std::uint8_t head[12] = {0x93, 'N', 'U', 'M', 'P', 'Y', static_cast<std::uint8_t>(major), 0, 0, 0, 0, 0};
    if (major == 1) detail::store_le<std::uint16_t>(head + 8, static_cast<std::uint16_t>(header.size()));
    else detail::store_le<std::uint32_t>(head + 8, static_cast<std::uint32_t>(header.size()));
    out.write(head, prefix);
    out.write(header.data(), header.size());
    const std::size_t elem = dtype_size(t.type());
    const bool swap = opt.order == byte_order::big && elem > 1;
    if (!opt.fortran_order && !swap) {
        out.write(t.data(), t.nbytes());
        return;
    }
    std::vector<std::uint8_t> buf(t.nbytes());
    if (opt.fortran_order) detail::reorder_c_fortran(t.data(), buf.data(), t.shape(), elem, true);
    else if (t.nbytes()) std::memcpy(buf.data(), t.data(), t.nbytes());
    if (swap) detail::byteswap_elements(buf.data(), t.size(), elem);
    out.write(buf.data(), buf.size());
}
}  // namespace detail_npy

/// The bytes of a .npy file holding `t`.
inline std::vector<std::uint8_t> to_npy_bytes(const tensor& t, const npy_options& opt = {}) {
    detail::buffer_sink sink;
    detail_npy::write_npy(sink, t.view(), opt);
    return std::move(sink.bytes);
}

/// Writes a .npy file atomically (temporary file + rename). Throws value_error for BF16 and
/// float8 tensors (NumPy has no such dtype) and io_error when the OS refuses.
inline void save_npy(const std::string& path, const tensor& t, const npy_options& opt = {}) {
    detail::atomic_file f(path);
    detail_npy::write_npy(f, t.view(), opt);
    f.commit();
}

/// Writes an xtensor expression as a .npy file.
template <class E>
void save_npy(const std::string& path, const xt::xexpression<E>& e, const npy_options& opt = {}) {
    save_npy(path, tensor(e), opt);
}

}  // namespace compress::io
