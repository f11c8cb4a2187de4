#pragma once
// Type-erased tensors for io.hpp: an element type tag (`io::dtype`), an owning tensor
// (`io::tensor`) and a non-owning view into a file's bytes (`io::tensor_view`), with typed
// accessors that return xtensor containers. Bytes are always little-endian, row-major.

#include <array>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <memory>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include <xtensor/xarray.hpp>
#include <xtensor/xexpression.hpp>
#include <xtensor/xtensor.hpp>

#include "../core/error.hpp"
#include "../core/half.hpp"

namespace compress::io {

/// Element types of the files io.hpp reads and writes (the safetensors set).
enum class dtype : std::uint8_t {
    boolean,   ///< BOOL, one byte, 0 or 1
    u8, i8, u16, i16, u32, i32, u64, i64,
    f16,       ///< IEEE binary16
    bf16,      ///< bfloat16 (upper half of a binary32)
    f32, f64,
    f8_e4m3,   ///< float8 e4m3fn (no infinities; 0x7f/0xff are NaN)
    f8_e5m2    ///< float8 e5m2
};

/// Bytes per element.
constexpr std::size_t dtype_size(dtype t) noexcept {
    switch (t) {
        case dtype::boolean: case dtype::u8: case dtype::i8: case dtype::f8_e4m3: case dtype::f8_e5m2: return 1;
        case dtype::u16: case dtype::i16: case dtype::f16: case dtype::bf16: return 2;
        case dtype::u32: case dtype::i32: case dtype::f32: return 4;
        case dtype::u64: case dtype::i64: case dtype::f64: return 8;
    }
    return 0;
}

/// The safetensors name: "F32", "BF16", "BOOL", ...
inline const char* dtype_name(dtype t) noexcept {
    switch (t) {
        case dtype::boolean: return "BOOL";
        case dtype::u8: return "U8";
        case dtype::i8: return "I8";
        case dtype::u16: return "U16";
        case dtype::i16: return "I16";
        case dtype::u32: return "U32";
        case dtype::i32: return "I32";
        case dtype::u64: return "U64";
        case dtype::i64: return "I64";
        case dtype::f16: return "F16";
        case dtype::bf16: return "BF16";
        case dtype::f32: return "F32";
        case dtype::f64: return "F64";
        case dtype::f8_e4m3: return "F8_E4M3";
        case dtype::f8_e5m2: return "F8_E5M2";
    }
    return "?";
}

/// Parses a safetensors dtype name; false when unknown.
inline bool parse_dtype(const std::string& s, dtype& out) noexcept {
    static const std::pair<const char*, dtype> table[] = {
        {"BOOL", dtype::boolean}, {"U8", dtype::u8},   {"I8", dtype::i8},   {"U16", dtype::u16},
        {"I16", dtype::i16},      {"U32", dtype::u32}, {"I32", dtype::i32}, {"U64", dtype::u64},
        {"I64", dtype::i64},      {"F16", dtype::f16}, {"BF16", dtype::bf16}, {"F32", dtype::f32},
        {"F64", dtype::f64},      {"F8_E4M3", dtype::f8_e4m3}, {"F8_E5M2", dtype::f8_e5m2}};
    for (const auto& e : table) {
        if (s == e.first) { out = e.second; return true; }
    }
    return false;
}

constexpr bool is_floating(dtype t) noexcept {
    return t == dtype::f16 || t == dtype::bf16 || t == dtype::f32 || t == dtype::f64 || t == dtype::f8_e4m3 ||
           t == dtype::f8_e5m2;
}

namespace detail_dtype {
template <class T, class = void>
struct dtype_of_impl {};
template <>
struct dtype_of_impl<bool> { static constexpr dtype value = dtype::boolean; };
template <>
struct dtype_of_impl<float> { static constexpr dtype value = dtype::f32; };
template <>
struct dtype_of_impl<double> { static constexpr dtype value = dtype::f64; };
template <class T>
struct dtype_of_impl<T, std::enable_if_t<std::is_integral_v<T> && !std::is_same_v<T, bool> &&
                                         !std::is_same_v<T, char>>> {
    static constexpr dtype value =
        sizeof(T) == 1 ? (std::is_signed_v<T> ? dtype::i8 : dtype::u8)
        : sizeof(T) == 2 ? (std::is_signed_v<T> ? dtype::i16 : dtype::u16)
        : sizeof(T) == 4 ? (std::is_signed_v<T> ? dtype::i32 : dtype::u32)
                         : (std::is_signed_v<T> ? dtype::i64 : dtype::u64);
    static_assert(sizeof(T) <= 8, "io: integers wider than 64 bits have no file dtype");
};
template <class T, class = void>
struct has_dtype : std::false_type {};
template <class T>
struct has_dtype<T, std::void_t<decltype(dtype_of_impl<T>::value)>> : std::true_type {};
}  // namespace detail_dtype

/// True for the C++ element types with a file dtype: bool, (u)int8..64, float, double.
template <class T>
inline constexpr bool has_dtype_v = detail_dtype::has_dtype<std::remove_cv_t<T>>::value;

/// The file dtype of a C++ element type.
template <class T>
inline constexpr dtype dtype_of = detail_dtype::dtype_of_impl<std::remove_cv_t<T>>::value;

using shape_type = std::vector<std::size_t>;

}  // namespace compress::io

namespace compress::detail {

inline constexpr bool host_little_endian = __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__;

/// Product of the extents times the element size; false on overflow of size_t.
inline bool checked_nbytes(const io::shape_type& shape, std::size_t elem, std::size_t& out) noexcept {
    std::size_t n = elem;
    for (auto d : shape) {
        if (d != 0 && n > std::numeric_limits<std::size_t>::max() / d) return false;
        n *= d;
    }
    out = n;
    return true;
}

inline std::size_t element_count(const io::shape_type& shape) noexcept {
    std::size_t n = 1;
    for (auto d : shape) n *= d;
    return n;
}

/// Reverses the bytes of each `elem`-byte element in place.
inline void byteswap_elements(std::uint8_t* p, std::size_t count, std::size_t elem) noexcept {
    if (elem <= 1) return;
    for (std::size_t i = 0; i < count; ++i, p += elem) {
        for (std::size_t a = 0, b = elem - 1; a < b; ++a, --b) std::swap(p[a], p[b]);
    }
}

template <class U>
inline U load_le(const std::uint8_t* p) noexcept {
    U v;
    std::memcpy(&v, p, sizeof(U));
    if constexpr (!host_little_endian && sizeof(U) > 1) {
        std::uint8_t b[sizeof(U)];
        std::memcpy(b, &v, sizeof(U));
        for (std::size_t a = 0, c = sizeof(U) - 1; a < c; ++a, --c) std::swap(b[a], b[c]);
        std::memcpy(&v, b, sizeof(U));
    }
    return v;
}

template <class U>
inline void store_le(std::uint8_t* p, U v) noexcept {
    std::memcpy(p, &v, sizeof(U));
    if constexpr (!host_little_endian && sizeof(U) > 1) {
        for (std::size_t a = 0, c = sizeof(U) - 1; a < c; ++a, --c) std::swap(p[a], p[c]);
    }
}

/// Element `i` of little-endian data of dtype `t`, as a double (exact for every dtype but
/// 64-bit integers above 2^53) — used by converting reads.
inline double element_as_double(io::dtype t, const std::uint8_t* p) noexcept {
    using io::dtype;
    switch (t) {
        case dtype::boolean: return *p != 0 ? 1.0 : 0.0;
        case dtype::u8: return *p;
        case dtype::i8: return static_cast<std::int8_t>(*p);
        case dtype::u16: return load_le<std::uint16_t>(p);
        case dtype::i16: return load_le<std::int16_t>(p);
        case dtype::u32: return load_le<std::uint32_t>(p);
        case dtype::i32: return load_le<std::int32_t>(p);
        case dtype::u64: return static_cast<double>(load_le<std::uint64_t>(p));
        case dtype::i64: return static_cast<double>(load_le<std::int64_t>(p));
        case dtype::f16: return fp16_to_float(load_le<std::uint16_t>(p));
        case dtype::bf16: return bf16_to_float(load_le<std::uint16_t>(p));
        case dtype::f32: return load_le<float>(p);
        case dtype::f64: return load_le<double>(p);
        case dtype::f8_e4m3: return fp8_e4m3_to_float(*p);
        case dtype::f8_e5m2: return fp8_e5m2_to_float(*p);
    }
    return 0.0;
}

/// Converts one element to T with a C++ cast of its exact value (integers are read as
/// integers, so 64-bit values survive).
template <class T>
inline T element_as(io::dtype t, const std::uint8_t* p) noexcept {
    using io::dtype;
    if constexpr (std::is_same_v<T, bool>) {
        switch (t) {
            case dtype::f16: case dtype::bf16: case dtype::f32: case dtype::f64: case dtype::f8_e4m3:
            case dtype::f8_e5m2: return element_as_double(t, p) != 0.0;
            default: break;
        }
        for (std::size_t k = 0; k < io::dtype_size(t); ++k) {
            if (p[k] != 0) return true;
        }
        return false;
    } else if constexpr (std::is_integral_v<T>) {
        switch (t) {
            case dtype::u64: return static_cast<T>(load_le<std::uint64_t>(p));
            case dtype::i64: return static_cast<T>(load_le<std::int64_t>(p));
            case dtype::u32: return static_cast<T>(load_le<std::uint32_t>(p));
            case dtype::i32: return static_cast<T>(load_le<std::int32_t>(p));
            default: {
                const double d = element_as_double(t, p);
                // Out-of-range or NaN floats have no integer value; saturate instead of UB.
                if (!(d == d)) return T(0);
                if (d <= static_cast<double>(std::numeric_limits<T>::lowest())) return std::numeric_limits<T>::lowest();
                if (d >= static_cast<double>(std::numeric_limits<T>::max())) return std::numeric_limits<T>::max();
                return static_cast<T>(d);
            }
        }
    } else {
        return static_cast<T>(element_as_double(t, p));
    }
}

/// True when reading dtype `t` as T is exact for every value: the same type, a float
/// format read as a wider float, or an integer read as a wider integer of a compatible sign.
template <class T>
constexpr bool lossless_read(io::dtype t) noexcept {
    using io::dtype;
    if (t == io::dtype_of<T>) return true;
    if constexpr (std::is_same_v<T, float>) {
        return t == dtype::f16 || t == dtype::bf16 || t == dtype::f8_e4m3 || t == dtype::f8_e5m2;
    } else if constexpr (std::is_same_v<T, double>) {
        return t == dtype::f16 || t == dtype::bf16 || t == dtype::f32 || t == dtype::f8_e4m3 ||
               t == dtype::f8_e5m2 || t == dtype::boolean || t == dtype::u8 || t == dtype::i8 ||
               t == dtype::u16 || t == dtype::i16 || t == dtype::u32 || t == dtype::i32;
    } else if constexpr (std::is_integral_v<T> && !std::is_same_v<T, bool>) {
        if (t == dtype::boolean) return true;
        if (io::is_floating(t)) return false;
        const std::size_t s = io::dtype_size(t);
        const bool src_signed = t == dtype::i8 || t == dtype::i16 || t == dtype::i32 || t == dtype::i64;
        if (std::is_signed_v<T>) return src_signed ? s <= sizeof(T) : s < sizeof(T);
        return !src_signed && s <= sizeof(T);
    } else {
        return false;
    }
}

}  // namespace compress::detail

namespace compress::io {

/// A non-owning view of one tensor's little-endian, row-major bytes (in a mapped file, a
/// read buffer, or an io::tensor). It keeps the storage it points into alive.
class tensor_view {
public:
    tensor_view() = default;
    tensor_view(std::string name, dtype t, shape_type shape, const std::uint8_t* data, std::size_t nbytes,
                std::shared_ptr<const void> keep = {})
        : name_(std::move(name)), dtype_(t), shape_(std::move(shape)), data_(data), nbytes_(nbytes),
          keep_(std::move(keep)) {}

    const std::string& name() const noexcept { return name_; }
    dtype type() const noexcept { return dtype_; }
    const shape_type& shape() const noexcept { return shape_; }
    std::size_t dimension() const noexcept { return shape_.size(); }
    std::size_t size() const noexcept { return detail::element_count(shape_); }
    std::size_t nbytes() const noexcept { return nbytes_; }
    const std::uint8_t* data() const noexcept { return data_; }

    /// The tensor as an xt::xtensor<T, N>. Exact reads only (the same dtype, or a dtype
    /// every value of which T represents exactly, e.g. F16/BF16 as float); throws
    /// format_error for other dtypes (use `get_as` to convert) and shape_error when the
    /// rank is not N.
    template <class T, std::size_t N>
    xt::xtensor<T, N> get() const {
        check_lossless<T>();
        return convert<T, N>();
    }
    /// The tensor as an xt::xarray<T> of its own rank (exact reads only, as get<T, N>).
    template <class T>
    xt::xarray<T> get() const {
        check_lossless<T>();
        return convert_dyn<T>();
    }
    /// Converting read: every element cast to T (floats to integers saturate, NaN → 0).
    template <class T, std::size_t N>
    xt::xtensor<T, N> get_as() const { return convert<T, N>(); }
    template <class T>
    xt::xarray<T> get_as() const { return convert_dyn<T>(); }

    /// Copies the elements into `out` (size() elements), converting each to T.
    template <class T>
    void copy_to(T* out) const {
        static_assert(has_dtype_v<T>, "io::tensor_view::copy_to<T>: T must be bool, an integer, float or double");
        const std::size_t n = size();
        const std::size_t es = dtype_size(dtype_);
        if (dtype_ == dtype_of<T> && detail::host_little_endian && !std::is_same_v<T, bool>) {
            if (n) std::memcpy(out, data_, n * sizeof(T));
            return;
        }
        for (std::size_t i = 0; i < n; ++i) out[i] = detail::element_as<T>(dtype_, data_ + i * es);
    }

private:
    template <class T>
    void check_lossless() const {
        static_assert(has_dtype_v<T>, "io: T must be bool, an integer, float or double");
        if (!detail::lossless_read<T>(dtype_)) {
            throw format_error(detail::where(name_) + " is stored as " + dtype_name(dtype_) +
                               ", which cannot be read exactly as " + dtype_name(dtype_of<T>) +
                               " (use get_as<T> for a converting read)");
        }
    }
    template <class T, std::size_t N>
    xt::xtensor<T, N> convert() const {
        static_assert(has_dtype_v<T>, "io: T must be bool, an integer, float or double");
        if (shape_.size() != N) {
            throw shape_error(detail::where(name_) + " has shape " + detail::shape_str(shape_) + " (rank " +
                              std::to_string(shape_.size()) + "), asked for rank " + std::to_string(N));
        }
        std::array<std::size_t, N> sh{};
        for (std::size_t d = 0; d < N; ++d) sh[d] = shape_[d];
        xt::xtensor<T, N> out = xt::xtensor<T, N>::from_shape(sh);
        copy_to(out.data());
        return out;
    }
    template <class T>
    xt::xarray<T> convert_dyn() const {
        static_assert(has_dtype_v<T>, "io: T must be bool, an integer, float or double");
        xt::xarray<T> out = xt::xarray<T>::from_shape(shape_);
        copy_to(out.data());
        return out;
    }

    std::string name_;
    dtype dtype_ = dtype::f32;
    shape_type shape_;
    const std::uint8_t* data_ = nullptr;
    std::size_t nbytes_ = 0;
    std::shared_ptr<const void> keep_;
};

/// An owning tensor: dtype, shape and little-endian row-major bytes. Built from any xtensor
/// expression of bool, (u)int8..64, float or double, or from raw bytes of any dtype.
class tensor {
public:
    tensor() = default;

    /// From raw little-endian row-major bytes; throws shape_error when the byte count is not
    /// shape × dtype size.
    tensor(dtype t, shape_type shape, std::vector<std::uint8_t> bytes)
        : dtype_(t), shape_(std::move(shape)), bytes_(std::move(bytes)) {
        std::size_t need = 0;
        if (!detail::checked_nbytes(shape_, dtype_size(t), need) || need != bytes_.size()) {
            throw shape_error("io::tensor: " + std::to_string(bytes_.size()) + " bytes do not hold a " +
                              dtype_name(t) + " tensor of shape " + detail::shape_str(shape_));
        }
    }

    /// Copies an xtensor expression (evaluated in row-major order).
    template <class E>
    tensor(const xt::xexpression<E>& expr) {  // NOLINT: implicit on purpose, for {{"name", w}} maps
        const auto& e = expr.derived_cast();
        using T = std::decay_t<typename E::value_type>;
        static_assert(has_dtype_v<T>, "io::tensor: the element type must be bool, an integer, float or double");
        dtype_ = dtype_of<T>;
        shape_.assign(e.shape().begin(), e.shape().end());
        const std::size_t n = detail::element_count(shape_);
        bytes_.resize(n * sizeof(T));
        std::uint8_t* p = bytes_.data();
        for (auto it = e.cbegin(); it != e.cend(); ++it, p += sizeof(T)) {
            if constexpr (std::is_same_v<T, bool>) {
                *p = *it ? 1 : 0;
            } else {
                detail::store_le<T>(p, static_cast<T>(*it));
            }
        }
    }

    /// Copies a view's bytes.
    explicit tensor(const tensor_view& v)
        : dtype_(v.type()), shape_(v.shape()), bytes_(v.data(), v.data() + v.nbytes()) {}

    dtype type() const noexcept { return dtype_; }
    const shape_type& shape() const noexcept { return shape_; }
    std::size_t dimension() const noexcept { return shape_.size(); }
    std::size_t size() const noexcept { return detail::element_count(shape_); }
    std::size_t nbytes() const noexcept { return bytes_.size(); }
    const std::uint8_t* data() const noexcept { return bytes_.data(); }
    const std::vector<std::uint8_t>& bytes() const noexcept { return bytes_; }

    /// A view of this tensor (valid while the tensor lives and is not modified).
    tensor_view view(std::string name = {}) const { return {std::move(name), dtype_, shape_, bytes_.data(), bytes_.size()}; }

    template <class T, std::size_t N>
    xt::xtensor<T, N> get() const { return view().get<T, N>(); }
    template <class T>
    xt::xarray<T> get() const { return view().get<T>(); }
    template <class T, std::size_t N>
    xt::xtensor<T, N> get_as() const { return view().get_as<T, N>(); }
    template <class T>
    xt::xarray<T> get_as() const { return view().get_as<T>(); }

    bool operator==(const tensor& o) const { return dtype_ == o.dtype_ && shape_ == o.shape_ && bytes_ == o.bytes_; }
    bool operator!=(const tensor& o) const { return !(*this == o); }

private:
    dtype dtype_ = dtype::f32;
    shape_type shape_{0};
    std::vector<std::uint8_t> bytes_;
};

}  // namespace compress::io
