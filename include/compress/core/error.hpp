#pragma once
// Error types thrown on bad input at run time. Every check on user input throws one of
// these (never an assert), and the message says what was wrong and where.

#include <cstddef>
#include <sstream>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace compress {

/// Base of every exception the library throws on bad input.
class error : public std::runtime_error {
public:
    explicit error(const std::string& what) : std::runtime_error(what) {}
};

/// Shapes that do not fit together (rank, extents, inner dimensions, lengths).
class shape_error : public error {
public:
    explicit shape_error(const std::string& what) : error("shape error: " + what) {}
};

/// Values out of their domain: NaN/Inf weights, sparsity outside [0,1], T <= 0, ...
class value_error : public error {
public:
    explicit value_error(const std::string& what) : error("value error: " + what) {}
};

/// Malformed, truncated or hostile file contents.
class format_error : public error {
public:
    explicit format_error(const std::string& what) : error("format error: " + what) {}
};

/// The operating system refused: cannot open, read, write, rename, map.
class io_error : public error {
public:
    explicit io_error(const std::string& what) : error("io error: " + what) {}
};

namespace detail {

/// Formats a shape as "[2, 3, 4]".
template <class S>
std::string shape_str(const S& shape) {
    std::ostringstream os;
    os << '[';
    bool first = true;
    for (auto d : shape) {
        if (!first) os << ", ";
        os << d;
        first = false;
    }
    os << ']';
    return os.str();
}

/// Formats a flat index of a tensor with the given shape as a multi-index "(i, j, k)".
template <class S>
std::string index_str(const S& shape, std::size_t flat) {
    std::vector<std::size_t> idx(shape.size());
    for (std::size_t d = shape.size(); d-- > 0;) {
        auto ext = static_cast<std::size_t>(shape[d]);
        if (ext == 0) { idx[d] = 0; continue; }
        idx[d] = flat % ext;
        flat /= ext;
    }
    std::ostringstream os;
    os << '(';
    for (std::size_t d = 0; d < idx.size(); ++d) {
        if (d) os << ", ";
        os << idx[d];
    }
    os << ')';
    return os.str();
}

/// "tensor 'fc1.weight'" or "tensor" when no name is known.
inline std::string where(const std::string& name) {
    return name.empty() ? std::string("tensor") : "tensor '" + name + "'";
}

}  // namespace detail
}  // namespace compress
