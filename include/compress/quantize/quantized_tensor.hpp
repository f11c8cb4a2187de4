#pragma once
// compress::quantized_tensor: packed codes + scales (+ zero points) of a quantized tensor.
//
// Packed layout (fixed, independent of the SIMD width; also the on-disk layout). A tensor
// of shape [d0, d1, ..., dn] is viewed as the 2-d [rows, cols] = [d0, d1·…·dn] (a 1-d tensor
// as [1, d0]); each row is packed independently into `row_stride()` bytes:
//   int8/uint8 (and pow2<5..8>, fp8): one byte per code.
//   fp16/bf16: two bytes per code, little endian.
//   int4/uint4 (and pow2<3..4>): element k at byte k/2, low nibble when k is even, high nibble
//     when odd; int4 is 4-bit two's complement; row padded to a whole byte (pad nibble 0).
//   int2 (and pow2<2>): element k at byte k/4, bits 2·(k%4)..2·(k%4)+1; row padded to a byte.
//   binary: ceil(cols/64) little-endian uint64 words; element k is bit k%64 of word k/64;
//     1 = +α (w >= 0), 0 = −α; padding bits 0.
//   ternary: two such planes per row, first `nonzero` then `negative` (2·ceil(cols/64) words);
//     value = nonzero ? (negative ? −α : +α) : 0; padding bits 0.
//   pow2<B>: sign-magnitude code, bit B-1 = sign, low B-1 bits = m (0 → 0, else α·2^(m-K)).
// Scales: per_tensor → 1; per_channel<A> → [d_A]; per_group<G> → [rows, ceil(cols/G)].
// Zero points (affine only): one per scale, stored in the code's 8-bit type.

#include <algorithm>
#include <array>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <type_traits>
#include <vector>

#include <xsimd/xsimd.hpp>
#include <xtensor/xtensor.hpp>

#include "../core/error.hpp"
#include "../core/half.hpp"
#include "layout.hpp"
#include "policies.hpp"

namespace compress {

namespace detail {

/// Bytes of one packed row of `cols` codes of format F.
template <class F>
constexpr std::size_t packed_row_bytes(std::size_t cols) noexcept {
    if constexpr (F::family == format_family::binary) {
        return ((cols + 63) / 64) * 8;
    } else if constexpr (F::family == format_family::ternary) {
        return 2 * ((cols + 63) / 64) * 8;
    } else {
        constexpr std::size_t b = static_cast<std::size_t>(F::storage_bits);
        return (cols * b + 7) / 8;
    }
}

/// Writes the low `bits` bits of `code` at element k of a packed 2/4/8/16-bit row.
template <int StorageBits>
inline void put_code(std::uint8_t* row, std::size_t k, std::uint32_t code) noexcept {
    if constexpr (StorageBits == 8) {
        row[k] = static_cast<std::uint8_t>(code);
    } else if constexpr (StorageBits == 16) {
        row[2 * k] = static_cast<std::uint8_t>(code & 0xFFu);
        row[2 * k + 1] = static_cast<std::uint8_t>((code >> 8) & 0xFFu);
    } else if constexpr (StorageBits == 4) {
        std::uint8_t& b = row[k / 2];
        const unsigned sh = (k & 1u) ? 4u : 0u;
        b = static_cast<std::uint8_t>((b & ~(0xFu << sh)) | ((code & 0xFu) << sh));
    } else {
        static_assert(StorageBits == 2, "packed codes are 2, 4, 8 or 16 bits");
        std::uint8_t& b = row[k / 4];
        const unsigned sh = 2u * static_cast<unsigned>(k % 4);
        b = static_cast<std::uint8_t>((b & ~(0x3u << sh)) | ((code & 0x3u) << sh));
    }
}

/// Reads the raw (unsigned) code at element k of a packed 2/4/8/16-bit row.
template <int StorageBits>
inline std::uint32_t get_code(const std::uint8_t* row, std::size_t k) noexcept {
    if constexpr (StorageBits == 8) {
        return row[k];
    } else if constexpr (StorageBits == 16) {
        return static_cast<std::uint32_t>(row[2 * k]) | (static_cast<std::uint32_t>(row[2 * k + 1]) << 8);
    } else if constexpr (StorageBits == 4) {
        return (row[k / 2] >> ((k & 1u) ? 4u : 0u)) & 0xFu;
    } else {
        return (row[k / 4] >> (2u * static_cast<unsigned>(k % 4))) & 0x3u;
    }
}

/// Sign-extends the low `bits` bits of v.
inline int sign_extend(std::uint32_t v, int bits) noexcept {
    const std::uint32_t m = 1u << (bits - 1);
    v &= (1u << bits) - 1u;
    return static_cast<int>(v ^ m) - static_cast<int>(m);
}

template <class ScaleFormat>
using scale_storage_t = std::conditional_t<std::is_same_v<ScaleFormat, float>, float, std::uint16_t>;

template <class ScaleFormat>
inline float decode_scale(scale_storage_t<ScaleFormat> s) noexcept {
    if constexpr (std::is_same_v<ScaleFormat, float>) {
        return s;
    } else {
        return fp16_to_float(s);
    }
}

template <class ScaleFormat>
inline scale_storage_t<ScaleFormat> encode_scale(float s) noexcept {
    if constexpr (std::is_same_v<ScaleFormat, float>) {
        return s;
    } else {
        return float_to_fp16(s, /*saturate=*/true);
    }
}

/// Decodes a pow2<B> code to a multiple of α: 0 or ±2^(m-K).
template <int Bits>
inline float pow2_level(std::uint32_t code) noexcept {
    constexpr int K = (1 << (Bits - 1)) - 1;
    const std::uint32_t m = code & ((1u << (Bits - 1)) - 1u);
    if (m == 0) return 0.0f;
    const float mag = std::ldexp(1.0f, static_cast<int>(m) - K);
    return ((code >> (Bits - 1)) & 1u) ? -mag : mag;
}

/// Decodes a floating-point format's code to float.
template <class F>
inline float decode_float_code(std::uint32_t code) noexcept {
    if constexpr (std::is_same_v<F, fp16>) return fp16_to_float(static_cast<std::uint16_t>(code));
    else if constexpr (std::is_same_v<F, bf16>) return bf16_to_float(static_cast<std::uint16_t>(code));
    else if constexpr (std::is_same_v<F, fp8_e4m3>) return fp8_e4m3_to_float(static_cast<std::uint8_t>(code));
    else return fp8_e5m2_to_float(static_cast<std::uint8_t>(code));
}

}  // namespace detail

/// A quantized tensor of rank N: packed codes (see the layout above), scales, and zero
/// points for affine mappings. `Format`, `Mapping`, `Granularity` and `ScaleFormat` are member
/// typedefs (`format`, `mapping`, `granularity`, `scale_format`) so kernels can overload on them.
template <class Format, class Mapping = symmetric, class Granularity = per_tensor, std::size_t N = 2,
          class ScaleFormat = float>
class quantized_tensor {
    static_assert(N >= 1, "quantized_tensor<..., N> needs N >= 1 (store a scalar as a 1-element 1-d tensor)");
    static_assert(detail::check_scheme<Format, Mapping, Granularity, ScaleFormat>::ok);

public:
    using format = Format;
    using mapping = Mapping;
    using granularity = Granularity;
    using scale_format = ScaleFormat;
    /// Element type of the stored scales: float, or uint16_t holding fp16 bits.
    using scale_type = detail::scale_storage_t<ScaleFormat>;
    /// Element type of the stored zero points (affine only): the 8-bit type of the codes.
    using zero_point_type = std::conditional_t<Format::is_signed, std::int8_t, std::uint8_t>;
    using shape_type = std::array<std::size_t, N>;
    static constexpr std::size_t rank = N;
    static constexpr bool has_zero_points = Mapping::is_affine;

    /// An empty tensor (all extents 0).
    quantized_tensor() : quantized_tensor(shape_type{}) {}

    /// A tensor of the given shape with all codes, scales and zero points zero. Throws
    /// shape_error when the granularity does not fit the shape (per_channel axis out of range,
    /// per_group with partial_group::reject and a row length not a multiple of G).
    explicit quantized_tensor(const shape_type& shape) : shape_(shape), layout_(shape) {
        rows_ = layout_.rows;
        cols_ = layout_.cols;
        row_stride_ = detail::packed_row_bytes<Format>(cols_);
        num_scales_ = layout_.slots;
        const std::size_t code_bytes = rows_ * row_stride_;
        storage_.assign((code_bytes + 7) / 8, 0);
        scales_.assign(num_scales_, scale_type(0));
        if constexpr (has_zero_points) zero_points_.assign(num_scales_, zero_point_type(0));
    }

    /// Builds a tensor from stored parts (e.g. read from a file). Throws format_error when a
    /// part has the wrong size or holds a value the format cannot hold (nonzero padding,
    /// negative or non-finite scale, zero point outside [qmin, qmax]).
    static quantized_tensor from_parts(const shape_type& shape, const std::uint8_t* codes, std::size_t code_bytes,
                                       const std::vector<scale_type>& scales,
                                       const std::vector<zero_point_type>& zero_points = {}) {
        quantized_tensor q(shape);
        if (code_bytes != q.code_bytes()) {
            throw format_error(std::string("quantized_tensor<") + Format::name() + ">: shape " + detail::shape_str(shape) +
                               " needs " + std::to_string(q.code_bytes()) + " bytes of codes, got " +
                               std::to_string(code_bytes));
        }
        if (scales.size() != q.num_scales_) {
            throw format_error(std::string("quantized_tensor: shape ") + detail::shape_str(shape) + " with " +
                               Granularity::name() + " needs " + std::to_string(q.num_scales_) + " scales, got " +
                               std::to_string(scales.size()));
        }
        const std::size_t want_zp = has_zero_points ? q.num_scales_ : 0;
        if (zero_points.size() != want_zp) {
            throw format_error(std::string("quantized_tensor: ") + Mapping::name() + " mapping needs " +
                               std::to_string(want_zp) + " zero points, got " + std::to_string(zero_points.size()));
        }
        if (code_bytes) std::memcpy(q.codes(), codes, code_bytes);
        for (std::size_t i = 0; i < scales.size(); ++i) {
            const float s = detail::decode_scale<ScaleFormat>(scales[i]);
            if (!(std::isfinite(s) && s >= 0.0f)) {
                throw format_error("quantized_tensor: scale " + std::to_string(i) + " is " + std::to_string(s) +
                                   " (must be finite and >= 0)");
            }
            q.scales_[i] = scales[i];
        }
        if constexpr (has_zero_points) {
            for (std::size_t i = 0; i < zero_points.size(); ++i) {
                const int z = zero_points[i];
                if (z < Format::qmin || z > Format::qmax) {
                    throw format_error("quantized_tensor: zero point " + std::to_string(i) + " is " + std::to_string(z) +
                                       ", outside [" + std::to_string(Format::qmin) + ", " +
                                       std::to_string(Format::qmax) + "]");
                }
                q.zero_points_[i] = zero_points[i];
            }
        }
        q.check_padding();
        return q;
    }

    // ------------------------------------------------------------------ shape
    const shape_type& shape() const noexcept { return shape_; }
    std::size_t size() const noexcept { return rows_ * cols_; }
    bool empty() const noexcept { return size() == 0; }
    /// Rows of the 2-d view: d0 (1 for a 1-d tensor).
    std::size_t rows() const noexcept { return rows_; }
    /// Columns of the 2-d view: d1·…·dn (d0 for a 1-d tensor).
    std::size_t cols() const noexcept { return cols_; }

    // ------------------------------------------------------------------ codes
    /// Bytes of one packed row (rows start at multiples of this; 8-aligned for binary/ternary).
    std::size_t row_stride() const noexcept { return row_stride_; }
    /// Bytes of all packed codes: rows() · row_stride().
    std::size_t code_bytes() const noexcept { return rows_ * row_stride_; }
    /// The packed codes (64-byte aligned).
    const std::uint8_t* codes() const noexcept { return reinterpret_cast<const std::uint8_t*>(storage_.data()); }
    std::uint8_t* codes() noexcept { return reinterpret_cast<std::uint8_t*>(storage_.data()); }
    /// Start of packed row r.
    const std::uint8_t* row(std::size_t r) const noexcept { return codes() + r * row_stride_; }
    std::uint8_t* row(std::size_t r) noexcept { return codes() + r * row_stride_; }
    /// Words per bit plane of a row (binary, ternary): ceil(cols / 64).
    std::size_t words_per_plane() const noexcept { return (cols_ + 63) / 64; }
    /// Bit-plane words of row r (binary: the sign plane; ternary: plane 0 = nonzero, 1 = negative).
    const std::uint64_t* row_words(std::size_t r, std::size_t plane = 0) const noexcept {
        static_assert(Format::family == format_family::binary || Format::family == format_family::ternary,
                      "row_words() is for binary and ternary tensors");
        return storage_.data() + (r * row_stride_) / 8 + plane * words_per_plane();
    }
    std::uint64_t* row_words(std::size_t r, std::size_t plane = 0) noexcept {
        static_assert(Format::family == format_family::binary || Format::family == format_family::ternary,
                      "row_words() is for binary and ternary tensors");
        return storage_.data() + (r * row_stride_) / 8 + plane * words_per_plane();
    }

    /// The code of element (r, c) of the 2-d view as a signed integer:
    /// integer formats: the code in [qmin, qmax]; binary: ±1; ternary: -1, 0, 1;
    /// pow2: the raw sign-magnitude code; floating: the raw bits.
    int code(std::size_t r, std::size_t c) const noexcept {
        const std::uint8_t* p = row(r);
        if constexpr (Format::family == format_family::binary) {
            const std::uint64_t* w = row_words(r);
            return ((w[c / 64] >> (c % 64)) & 1u) ? 1 : -1;
        } else if constexpr (Format::family == format_family::ternary) {
            const std::uint64_t* nz = row_words(r, 0);
            const std::uint64_t* ng = row_words(r, 1);
            if (!((nz[c / 64] >> (c % 64)) & 1u)) return 0;
            return ((ng[c / 64] >> (c % 64)) & 1u) ? -1 : 1;
        } else if constexpr (Format::family == format_family::integer) {
            const std::uint32_t raw = detail::get_code<Format::storage_bits>(p, c);
            return Format::is_signed ? detail::sign_extend(raw, Format::bits) : static_cast<int>(raw);
        } else {
            return static_cast<int>(detail::get_code<Format::storage_bits>(p, c));
        }
    }

    /// Sets the code of element (r, c) (same convention as code()).
    void set_code(std::size_t r, std::size_t c, int v) noexcept {
        if constexpr (Format::family == format_family::binary) {
            std::uint64_t* w = row_words(r);
            const std::uint64_t bit = std::uint64_t(1) << (c % 64);
            w[c / 64] = v >= 0 ? (w[c / 64] | bit) : (w[c / 64] & ~bit);
        } else if constexpr (Format::family == format_family::ternary) {
            std::uint64_t* nz = row_words(r, 0);
            std::uint64_t* ng = row_words(r, 1);
            const std::uint64_t bit = std::uint64_t(1) << (c % 64);
            nz[c / 64] = v != 0 ? (nz[c / 64] | bit) : (nz[c / 64] & ~bit);
            ng[c / 64] = v < 0 ? (ng[c / 64] | bit) : (ng[c / 64] & ~bit);
        } else {
            detail::put_code<Format::storage_bits>(row(r), c, static_cast<std::uint32_t>(v));
        }
    }

    // ------------------------------------------------------------------ scales, zero points
    std::size_t num_scales() const noexcept { return num_scales_; }
    /// Shape of the scale (and zero point) array: [1], [d_A] or [rows, groups].
    const std::vector<std::size_t>& scale_shape() const noexcept { return layout_.slot_shape; }
    /// Stored scales (float, or fp16 bits when ScaleFormat is fp16).
    const scale_type* scales() const noexcept { return scales_.data(); }
    scale_type* scales() noexcept { return scales_.data(); }
    /// Scale i as float.
    float scale(std::size_t i) const noexcept { return detail::decode_scale<ScaleFormat>(scales_[i]); }
    /// Stored zero points (affine only; empty otherwise).
    const zero_point_type* zero_points() const noexcept { return zero_points_.data(); }
    zero_point_type* zero_points() noexcept { return zero_points_.data(); }
    std::size_t num_zero_points() const noexcept { return zero_points_.size(); }
    /// Zero point of scale slot i; for symmetric mappings the implicit one
    /// (0 for signed formats, 2^(bits-1) for unsigned ones).
    int zero_point(std::size_t i) const noexcept {
        if constexpr (has_zero_points) {
            return zero_points_[i];
        } else {
            return implicit_zero_point;
        }
    }
    static constexpr int implicit_zero_point =
        (Format::family == format_family::integer && !Format::is_signed) ? (1 << (Format::bits - 1)) : 0;

    /// Groups per row (per_group), else 0.
    std::size_t groups_per_row() const noexcept { return layout_.groups; }

    /// Index of the scale of element (r, c) of the 2-d view.
    std::size_t scale_index(std::size_t r, std::size_t c) const noexcept { return layout_.slot(r, c); }
    /// The block structure (rows, cols, slots, runs of a row sharing a scale).
    const detail::block_layout<Granularity, N>& layout() const noexcept { return layout_; }

    // ------------------------------------------------------------------ values
    /// The dequantized value of element (r, c) of the 2-d view.
    float value(std::size_t r, std::size_t c) const noexcept {
        const std::size_t s = scale_index(r, c);
        const float sc = scale(s);
        if constexpr (Format::family == format_family::integer) {
            return static_cast<float>(code(r, c) - zero_point(s)) * sc;
        } else if constexpr (Format::family == format_family::binary || Format::family == format_family::ternary) {
            const int v = code(r, c);
            return v == 0 ? 0.0f : (v > 0 ? sc : -sc);
        } else if constexpr (Format::family == format_family::pow2) {
            return detail::pow2_level<Format::bits>(static_cast<std::uint32_t>(code(r, c))) * sc;
        } else {
            return detail::decode_float_code<Format>(static_cast<std::uint32_t>(code(r, c))) * sc;
        }
    }

    /// The dequantized tensor: integer (q − z)·s, binary ±α, ternary {−α, 0, α}, pow2 ±α·2^-k,
    /// floating decode(q)·s.
    xt::xtensor<float, N> dequantize() const {
        xt::xtensor<float, N> out = xt::xtensor<float, N>::from_shape(shape_);
        float* o = out.data();
        for (std::size_t r = 0; r < rows_; ++r) {
            for (std::size_t c = 0; c < cols_; ++c) o[r * cols_ + c] = value(r, c);
        }
        return out;
    }

    // ------------------------------------------------------------------ storage
    /// Real storage in bytes: packed codes + scales + zero points (the shape is not counted).
    std::size_t bytes() const noexcept {
        return code_bytes() + scales_.size() * sizeof(scale_type) + zero_points_.size() * sizeof(zero_point_type);
    }
    /// bytes() · 8 / size(); 0 for an empty tensor.
    double bits_per_weight() const noexcept {
        return size() ? static_cast<double>(bytes()) * 8.0 / static_cast<double>(size()) : 0.0;
    }

    bool operator==(const quantized_tensor& o) const {
        return shape_ == o.shape_ && scales_ == o.scales_ && zero_points_ == o.zero_points_ &&
               std::equal(codes(), codes() + code_bytes(), o.codes(), o.codes() + o.code_bytes());
    }
    bool operator!=(const quantized_tensor& o) const { return !(*this == o); }

private:
    void check_padding() const {
        // every bit past the last element of a row must be zero
        for (std::size_t r = 0; r < rows_; ++r) {
            const std::uint8_t* p = row(r);
            if constexpr (Format::family == format_family::ternary) {
                const std::size_t W = words_per_plane();
                for (std::size_t plane = 0; plane < 2; ++plane) {
                    if (!padding_zero(p + plane * W * 8, W * 8, cols_)) throw_padding(r);
                }
                // a negative bit without its nonzero bit is not a valid ternary code
                const std::uint64_t* nz = row_words(r, 0);
                const std::uint64_t* ng = row_words(r, 1);
                for (std::size_t w = 0; w < W; ++w) {
                    if (ng[w] & ~nz[w]) {
                        throw format_error("quantized_tensor<ternary>: row " + std::to_string(r) +
                                           " has a negative bit set on a zero weight");
                    }
                }
            } else {
                const std::size_t used_bits =
                    Format::family == format_family::binary ? cols_ : cols_ * static_cast<std::size_t>(Format::storage_bits);
                if (!padding_zero(p, row_stride_, used_bits)) throw_padding(r);
            }
        }
    }
    static bool padding_zero(const std::uint8_t* p, std::size_t nbytes, std::size_t used_bits) {
        for (std::size_t b = used_bits / 8; b < nbytes; ++b) {
            std::uint8_t v = p[b];
            if (b == used_bits / 8) v = static_cast<std::uint8_t>(v >> (used_bits % 8));
            if (v) return false;
        }
        return true;
    }
    [[noreturn]] static void throw_padding(std::size_t r) {
        throw format_error(std::string("quantized_tensor<") + Format::name() + ">: row " + std::to_string(r) +
                           " has nonzero padding bits");
    }

    shape_type shape_{};
    std::size_t rows_ = 0, cols_ = 0, row_stride_ = 0;
    detail::block_layout<Granularity, N> layout_;
    std::size_t num_scales_ = 0;
    std::vector<std::uint64_t, xsimd::aligned_allocator<std::uint64_t, 64>> storage_;
    std::vector<scale_type> scales_;
    std::vector<zero_point_type> zero_points_;
};

}  // namespace compress
