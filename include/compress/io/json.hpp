#pragma once
// A small, strict JSON reader and writer for the file headers of io.hpp (safetensors
// headers, the compressed-model description). Internal: namespace compress::detail::json.
//
// Strict RFC 8259: no comments, no trailing commas, no NaN, no duplicate object keys,
// every string valid UTF-8 (raw bytes and \u escapes, surrogates paired), no control
// characters in strings, nesting depth limited so hostile input cannot exhaust the stack.
// Parsing works over a byte span, so fuzz targets call it directly.

#include <charconv>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "../core/error.hpp"

namespace compress::detail::json {

/// One JSON value. Numbers keep their source text; `as_u64()` / `as_double()` interpret it.
struct value {
    enum class kind { null, boolean, number, string, array, object };

    kind type = kind::null;
    bool boolean = false;
    std::string text;  ///< the string's decoded UTF-8, or the number's source text
    std::vector<value> items;  ///< array elements
    std::vector<std::pair<std::string, value>> members;  ///< object members, in source order

    bool is_null() const noexcept { return type == kind::null; }
    bool is_bool() const noexcept { return type == kind::boolean; }
    bool is_number() const noexcept { return type == kind::number; }
    bool is_string() const noexcept { return type == kind::string; }
    bool is_array() const noexcept { return type == kind::array; }
    bool is_object() const noexcept { return type == kind::object; }

    /// Member of an object, or nullptr.
    const value* find(const std::string& key) const noexcept {
        for (const auto& m : members) {
            if (m.first == key) return &m.second;
        }
        return nullptr;
    }

    /// True when the number is a non-negative integer without fraction or exponent that
    /// fits in uint64; stores it in `out`.
    bool as_u64(std::uint64_t& out) const noexcept {
        if (type != kind::number || text.empty()) return false;
        std::uint64_t v = 0;
        for (char c : text) {
            if (c < '0' || c > '9') return false;
            const auto d = static_cast<std::uint64_t>(c - '0');
            if (v > (std::numeric_limits<std::uint64_t>::max() - d) / 10) return false;
            v = v * 10 + d;
        }
        out = v;
        return true;
    }

    /// The number as a signed integer (no fraction or exponent), if it fits.
    bool as_i64(std::int64_t& out) const noexcept {
        if (type != kind::number || text.empty()) return false;
        const bool neg = text[0] == '-';
        value tmp;
        tmp.type = kind::number;
        tmp.text = neg ? text.substr(1) : text;
        std::uint64_t u = 0;
        if (!tmp.as_u64(u)) return false;
        const auto lim = static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max());
        if (!neg && u > lim) return false;
        if (neg && u > lim + 1) return false;
        out = neg ? (u == lim + 1 ? std::numeric_limits<std::int64_t>::min() : -static_cast<std::int64_t>(u))
                  : static_cast<std::int64_t>(u);
        return true;
    }

    /// The number as a double (locale-independent; the nearest double to the source text).
    double as_double() const noexcept {
        double d = 0.0;
        if (type == kind::number) std::from_chars(text.data(), text.data() + text.size(), d);
        return d;
    }
};

/// Kind name for error messages.
inline const char* kind_name(value::kind k) noexcept {
    switch (k) {
        case value::kind::null: return "null";
        case value::kind::boolean: return "a boolean";
        case value::kind::number: return "a number";
        case value::kind::string: return "a string";
        case value::kind::array: return "an array";
        case value::kind::object: return "an object";
    }
    return "?";
}

/// Limits of the parser; the defaults are far above anything a real header needs.
struct limits {
    std::size_t max_depth = 64;
};

namespace impl {

/// Validates one UTF-8 sequence starting at p[i]; returns its length or 0 when invalid
/// (overlong forms, surrogates, code points above U+10FFFF, truncation are invalid).
inline std::size_t utf8_sequence(const unsigned char* p, std::size_t i, std::size_t n) noexcept {
    const unsigned char c = p[i];
    if (c < 0x80) return 1;
    std::size_t len;
    std::uint32_t cp;
    if (c >= 0xC2 && c <= 0xDF) { len = 2; cp = c & 0x1Fu; }
    else if (c >= 0xE0 && c <= 0xEF) { len = 3; cp = c & 0x0Fu; }
    else if (c >= 0xF0 && c <= 0xF4) { len = 4; cp = c & 0x07u; }
    else return 0;
    if (n - i < len) return 0;
    for (std::size_t k = 1; k < len; ++k) {
        const unsigned char cc = p[i + k];
        if ((cc & 0xC0u) != 0x80u) return 0;
        cp = (cp << 6) | (cc & 0x3Fu);
    }
    if (len == 3 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) return 0;
    if (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)) return 0;
    return len;
}

inline void append_utf8(std::string& s, std::uint32_t cp) {
    if (cp < 0x80) {
        s += static_cast<char>(cp);
    } else if (cp < 0x800) {
        s += static_cast<char>(0xC0 | (cp >> 6));
        s += static_cast<char>(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
        s += static_cast<char>(0xE0 | (cp >> 12));
        s += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
        s += static_cast<char>(0x80 | (cp & 0x3F));
    } else {
        s += static_cast<char>(0xF0 | (cp >> 18));
        s += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
        s += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
        s += static_cast<char>(0x80 | (cp & 0x3F));
    }
}

class parser {
public:
    parser(const unsigned char* data, std::size_t size, std::string context, limits lim)
        : p_(data), n_(size), context_(std::move(context)), lim_(lim) {}

    value parse_document() {
        skip_ws();
        value v = parse_value(0);
        skip_ws();
        if (i_ != n_) fail("unexpected data after the JSON value");
        return v;
    }

private:
    [[noreturn]] void fail(const std::string& what) const {
        throw format_error(context_ + ": invalid JSON at byte " + std::to_string(i_) + ": " + what);
    }

    void skip_ws() noexcept {
        while (i_ < n_ && (p_[i_] == ' ' || p_[i_] == '\t' || p_[i_] == '\n' || p_[i_] == '\r')) ++i_;
    }

    void expect_literal(const char* lit) {
        for (std::size_t k = 0; lit[k]; ++k, ++i_) {
            if (i_ >= n_ || p_[i_] != static_cast<unsigned char>(lit[k])) fail(std::string("expected '") + lit + "'");
        }
    }

    value parse_value(std::size_t depth) {
        if (i_ >= n_) fail("unexpected end of input");
        value v;
        const unsigned char c = p_[i_];
        if (c == '{') {
            if (depth >= lim_.max_depth) fail("nesting deeper than " + std::to_string(lim_.max_depth) + " levels");
            parse_object(v, depth + 1);
        } else if (c == '[') {
            if (depth >= lim_.max_depth) fail("nesting deeper than " + std::to_string(lim_.max_depth) + " levels");
            parse_array(v, depth + 1);
        } else if (c == '"') {
            v.type = value::kind::string;
            v.text = parse_string();
        } else if (c == 't') {
            expect_literal("true");
            v.type = value::kind::boolean;
            v.boolean = true;
        } else if (c == 'f') {
            expect_literal("false");
            v.type = value::kind::boolean;
        } else if (c == 'n') {
            expect_literal("null");
        } else if (c == '-' || (c >= '0' && c <= '9')) {
            v.type = value::kind::number;
            v.text = parse_number();
        } else {
            fail("unexpected character");
        }
        return v;
    }

    void parse_object(value& v, std::size_t depth) {
        v.type = value::kind::object;
        ++i_;  // '{'
        skip_ws();
        if (i_ < n_ && p_[i_] == '}') { ++i_; return; }
        for (;;) {
            skip_ws();
            if (i_ >= n_ || p_[i_] != '"') fail("expected a string as object key");
            const std::size_t key_at = i_;
            std::string key = parse_string();
            for (const auto& m : v.members) {
                if (m.first == key) {
                    i_ = key_at;
                    fail("duplicate key \"" + key + "\"");
                }
            }
            skip_ws();
            if (i_ >= n_ || p_[i_] != ':') fail("expected ':' after object key");
            ++i_;
            skip_ws();
            v.members.emplace_back(std::move(key), parse_value(depth));
            skip_ws();
            if (i_ >= n_) fail("unexpected end of input inside an object");
            if (p_[i_] == ',') { ++i_; continue; }
            if (p_[i_] == '}') { ++i_; return; }
            fail("expected ',' or '}' in object");
        }
    }

    void parse_array(value& v, std::size_t depth) {
        v.type = value::kind::array;
        ++i_;  // '['
        skip_ws();
        if (i_ < n_ && p_[i_] == ']') { ++i_; return; }
        for (;;) {
            skip_ws();
            v.items.push_back(parse_value(depth));
            skip_ws();
            if (i_ >= n_) fail("unexpected end of input inside an array");
            if (p_[i_] == ',') { ++i_; continue; }
            if (p_[i_] == ']') { ++i_; return; }
            fail("expected ',' or ']' in array");
        }
    }

    std::uint32_t parse_hex4() {
        if (n_ - i_ < 4) fail("truncated \\u escape");
        std::uint32_t cp = 0;
        for (int k = 0; k < 4; ++k, ++i_) {
            const unsigned char h = p_[i_];
            cp <<= 4;
            if (h >= '0' && h <= '9') cp |= static_cast<std::uint32_t>(h - '0');
            else if (h >= 'a' && h <= 'f') cp |= static_cast<std::uint32_t>(h - 'a' + 10);
            else if (h >= 'A' && h <= 'F') cp |= static_cast<std::uint32_t>(h - 'A' + 10);
            else fail("bad hex digit in \\u escape");
        }
        return cp;
    }

    std::string parse_string() {
        ++i_;  // '"'
        std::string s;
        for (;;) {
            if (i_ >= n_) fail("unterminated string");
            const unsigned char c = p_[i_];
            if (c == '"') { ++i_; return s; }
            if (c < 0x20) fail("control character in string");
            if (c == '\\') {
                ++i_;
                if (i_ >= n_) fail("unterminated escape");
                const unsigned char e = p_[i_++];
                switch (e) {
                    case '"': s += '"'; break;
                    case '\\': s += '\\'; break;
                    case '/': s += '/'; break;
                    case 'b': s += '\b'; break;
                    case 'f': s += '\f'; break;
                    case 'n': s += '\n'; break;
                    case 'r': s += '\r'; break;
                    case 't': s += '\t'; break;
                    case 'u': {
                        std::uint32_t cp = parse_hex4();
                        if (cp >= 0xDC00 && cp <= 0xDFFF) fail("unpaired low surrogate in \\u escape");
                        if (cp >= 0xD800 && cp <= 0xDBFF) {
                            if (n_ - i_ < 2 || p_[i_] != '\\' || p_[i_ + 1] != 'u') fail("unpaired high surrogate in \\u escape");
                            i_ += 2;
                            const std::uint32_t lo = parse_hex4();
                            if (lo < 0xDC00 || lo > 0xDFFF) fail("unpaired high surrogate in \\u escape");
                            cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                        }
                        append_utf8(s, cp);
                        break;
                    }
                    default: --i_; fail("bad escape character");
                }
                continue;
            }
            const std::size_t len = utf8_sequence(p_, i_, n_);
            if (len == 0) fail("string is not valid UTF-8");
            s.append(reinterpret_cast<const char*>(p_ + i_), len);
            i_ += len;
        }
    }

    std::string parse_number() {
        const std::size_t start = i_;
        auto digit = [&](std::size_t k) { return k < n_ && p_[k] >= '0' && p_[k] <= '9'; };
        if (p_[i_] == '-') ++i_;
        if (!digit(i_)) fail("expected a digit");
        if (p_[i_] == '0') {
            ++i_;
            if (digit(i_)) fail("leading zero in number");
        } else {
            while (digit(i_)) ++i_;
        }
        if (i_ < n_ && p_[i_] == '.') {
            ++i_;
            if (!digit(i_)) fail("expected a digit after '.'");
            while (digit(i_)) ++i_;
        }
        if (i_ < n_ && (p_[i_] == 'e' || p_[i_] == 'E')) {
            ++i_;
            if (i_ < n_ && (p_[i_] == '+' || p_[i_] == '-')) ++i_;
            if (!digit(i_)) fail("expected a digit in exponent");
            while (digit(i_)) ++i_;
        }
        if (i_ - start > 64) { i_ = start; fail("number longer than 64 characters"); }
        return std::string(reinterpret_cast<const char*>(p_ + start), i_ - start);
    }

    const unsigned char* p_;
    std::size_t n_;
    std::size_t i_ = 0;
    std::string context_;
    limits lim_;
};

}  // namespace impl

/// Parses a complete JSON document from a byte span. Throws format_error whose message
/// starts with `context` and names the byte offset of the problem.
inline value parse(const void* data, std::size_t size, const std::string& context = "JSON", limits lim = {}) {
    impl::parser p(static_cast<const unsigned char*>(data), size, context, lim);
    return p.parse_document();
}

inline value parse(const std::string& text, const std::string& context = "JSON", limits lim = {}) {
    return parse(text.data(), text.size(), context, lim);
}

/// True when `s` is valid UTF-8.
inline bool is_utf8(const std::string& s) noexcept {
    const auto* p = reinterpret_cast<const unsigned char*>(s.data());
    for (std::size_t i = 0, n = s.size(); i < n;) {
        const std::size_t len = impl::utf8_sequence(p, i, n);
        if (len == 0) return false;
        i += len;
    }
    return true;
}

/// Appends `s` as a JSON string literal. Throws value_error when `s` is not valid UTF-8.
inline void write_string(std::string& out, const std::string& s) {
    if (!is_utf8(s)) throw value_error("string is not valid UTF-8: cannot be written to a JSON header");
    static const char hex[] = "0123456789abcdef";
    out += '"';
    for (char ch : s) {
        const auto c = static_cast<unsigned char>(ch);
        switch (c) {
            case '"': out += "\\\""; break;
            case '\\': out += "\\\\"; break;
            case '\n': out += "\\n"; break;
            case '\r': out += "\\r"; break;
            case '\t': out += "\\t"; break;
            case '\b': out += "\\b"; break;
            case '\f': out += "\\f"; break;
            default:
                if (c < 0x20) {
                    out += "\\u00";
                    out += hex[c >> 4];
                    out += hex[c & 0xF];
                } else {
                    out += ch;
                }
        }
    }
    out += '"';
}

inline std::string quote(const std::string& s) {
    std::string out;
    write_string(out, s);
    return out;
}

/// Serializes a value compactly (members in stored order).
inline void write(std::string& out, const value& v) {
    switch (v.type) {
        case value::kind::null: out += "null"; break;
        case value::kind::boolean: out += v.boolean ? "true" : "false"; break;
        case value::kind::number: out += v.text; break;
        case value::kind::string: write_string(out, v.text); break;
        case value::kind::array:
            out += '[';
            for (std::size_t k = 0; k < v.items.size(); ++k) {
                if (k) out += ',';
                write(out, v.items[k]);
            }
            out += ']';
            break;
        case value::kind::object:
            out += '{';
            for (std::size_t k = 0; k < v.members.size(); ++k) {
                if (k) out += ',';
                write_string(out, v.members[k].first);
                out += ':';
                write(out, v.members[k].second);
            }
            out += '}';
            break;
    }
}

inline std::string dump(const value& v) {
    std::string out;
    write(out, v);
    return out;
}

// Builders, for writers.
inline value make_string(std::string s) { value v; v.type = value::kind::string; v.text = std::move(s); return v; }
inline value make_bool(bool b) { value v; v.type = value::kind::boolean; v.boolean = b; return v; }
inline value make_uint(std::uint64_t n) { value v; v.type = value::kind::number; v.text = std::to_string(n); return v; }
inline value make_int(std::int64_t n) { value v; v.type = value::kind::number; v.text = std::to_string(n); return v; }
inline value make_array() { value v; v.type = value::kind::array; return v; }
inline value make_object() { value v; v.type = value::kind::object; return v; }
/// A finite double in its shortest round-trip form; NaN and infinities (which JSON cannot
/// hold) become null.
inline value make_double(double d) {
    value v;
    if (!(d == d) || d == std::numeric_limits<double>::infinity() || d == -std::numeric_limits<double>::infinity()) return v;
    char buf[64];
    const auto r = std::to_chars(buf, buf + sizeof(buf), d);
    v.type = value::kind::number;
    v.text.assign(buf, r.ptr);
    return v;
}

}  // namespace compress::detail::json

