#pragma once
// Quantization policies: number formats, mappings, granularities, rounding modes.
// Part of quantize.hpp; see docs/quantize.md.

#include <cstddef>
#include <cstdint>
#include <type_traits>

#include "../core/static_checks.hpp"

namespace compress {

/// What kind of code a format stores.
enum class format_family {
    integer,   ///< uniform integer levels: int8, uint8, int4, uint4, int2
    binary,    ///< ±α, one bit per weight (XNOR-Net)
    ternary,   ///< {-α, 0, +α}, two bit planes (TWN)
    pow2,      ///< 0 and ±α·2^-k (logarithmic levels)
    floating,  ///< fp16, bf16, fp8 e4m3fn, fp8 e5m2
};

namespace detail {
template <int Bits, bool Signed, const char* (*Name)()>
struct integer_format {
    using policy_kind = policy::format;
    static constexpr format_family family = format_family::integer;
    static constexpr int bits = Bits;          ///< bits of information per weight
    static constexpr int storage_bits = Bits;  ///< bits of packed storage per weight
    static constexpr bool is_signed = Signed;
    static constexpr int qmin = Signed ? -(1 << (Bits - 1)) : 0;
    static constexpr int qmax = Signed ? (1 << (Bits - 1)) - 1 : (1 << Bits) - 1;
    static constexpr bool scaled = true;
    static const char* name() noexcept { return Name(); }
};
inline const char* name_int8() noexcept { return "int8"; }
inline const char* name_uint8() noexcept { return "uint8"; }
inline const char* name_int4() noexcept { return "int4"; }
inline const char* name_uint4() noexcept { return "uint4"; }
inline const char* name_int2() noexcept { return "int2"; }
}  // namespace detail

/// 8-bit two's complement codes in [-128, 127] (PyTorch qint8).
struct int8 : detail::integer_format<8, true, detail::name_int8> {};
/// 8-bit unsigned codes in [0, 255] (PyTorch quint8).
struct uint8 : detail::integer_format<8, false, detail::name_uint8> {};
/// 4-bit two's complement codes in [-8, 7], two per byte.
struct int4 : detail::integer_format<4, true, detail::name_int4> {};
/// 4-bit unsigned codes in [0, 15], two per byte.
struct uint4 : detail::integer_format<4, false, detail::name_uint4> {};
/// 2-bit two's complement codes in [-2, 1], four per byte.
struct int2 : detail::integer_format<2, true, detail::name_int2> {};

/// One bit per weight: +α when w >= 0, −α otherwise; α = mean|w| of the block (XNOR-Net).
struct binary {
    using policy_kind = policy::format;
    static constexpr format_family family = format_family::binary;
    static constexpr int bits = 1;
    static constexpr int storage_bits = 1;
    static constexpr bool is_signed = true;
    static constexpr bool scaled = true;
    static const char* name() noexcept { return "binary"; }
};

/// {−α, 0, +α} with Δ = 0.7·mean|w| and α = mean of the |w| > Δ (TWN, Li & Liu 2016).
/// Stored as two bit planes (nonzero, negative): 2 bits per weight.
struct ternary {
    using policy_kind = policy::format;
    static constexpr format_family family = format_family::ternary;
    static constexpr int bits = 2;
    static constexpr int storage_bits = 2;
    static constexpr bool is_signed = true;
    static constexpr bool scaled = true;
    static const char* name() noexcept { return "ternary"; }
};

/// Logarithmic levels {0, ±α·2^-k : k = 0 .. 2^(Bits-1) - 2}: one sign bit and a
/// (Bits-1)-bit magnitude field m (m = 0 is zero, m > 0 is α·2^(m - K), K = 2^(Bits-1) - 1).
/// Codes are stored in the next container of 2, 4 or 8 bits.
template <int Bits>
struct pow2 {
    static_assert(Bits >= 2 && Bits <= 8,
                  "pow2<Bits> needs 2 <= Bits <= 8 (one sign bit plus 1..7 exponent bits)");
    using policy_kind = policy::format;
    static constexpr format_family family = format_family::pow2;
    static constexpr int bits = Bits;
    static constexpr int storage_bits = Bits <= 2 ? 2 : (Bits <= 4 ? 4 : 8);
    static constexpr bool is_signed = true;
    static constexpr bool scaled = true;
    /// Number of nonzero magnitudes (levels α·2^0 … α·2^-(K-1)).
    static constexpr int magnitudes = (1 << (Bits - 1)) - 1;
    static const char* name() noexcept { return "pow2"; }
};

namespace detail {
template <int Bits, int Man, bool Scaled, const char* (*Name)()>
struct float_format {
    using policy_kind = policy::format;
    static constexpr format_family family = format_family::floating;
    static constexpr int bits = Bits;
    static constexpr int storage_bits = Bits;
    static constexpr int mantissa_bits = Man;
    static constexpr bool is_signed = true;
    /// fp8 formats carry a scale (amax maps to the largest finite value); fp16/bf16 are casts.
    static constexpr bool scaled = Scaled;
    static const char* name() noexcept { return Name(); }
};
inline const char* name_fp16() noexcept { return "fp16"; }
inline const char* name_bf16() noexcept { return "bf16"; }
inline const char* name_e4m3() noexcept { return "fp8_e4m3"; }
inline const char* name_e5m2() noexcept { return "fp8_e5m2"; }
}  // namespace detail

/// IEEE binary16; a cast (scale 1), round to nearest even, saturating at ±65504.
struct fp16 : detail::float_format<16, 10, false, detail::name_fp16> {};
/// bfloat16; a cast (scale 1), round to nearest even, saturating at ±3.39e38.
struct bf16 : detail::float_format<16, 7, false, detail::name_bf16> {};
/// OCP fp8 e4m3fn, scaled so that the block's amax maps to 448; saturating.
struct fp8_e4m3 : detail::float_format<8, 3, true, detail::name_e4m3> {};
/// OCP fp8 e5m2, scaled so that the block's amax maps to 57344; saturating.
struct fp8_e5m2 : detail::float_format<8, 2, true, detail::name_e5m2> {};

// ---------------------------------------------------------------------------- mappings

/// Range [-amax, amax] around zero; signed integer formats have zero point 0, unsigned ones
/// the implicit zero point 2^(bits-1) (128 for uint8, as PyTorch quint8 symmetric).
struct symmetric {
    using policy_kind = policy::mapping;
    static constexpr bool is_affine = false;
    static const char* name() noexcept { return "symmetric"; }
};

/// Range [min(min,0), max(max,0)] mapped onto [qmin, qmax] with an integer zero point.
struct affine {
    using policy_kind = policy::mapping;
    static constexpr bool is_affine = true;
    static const char* name() noexcept { return "affine"; }
};

// ---------------------------------------------------------------------------- granularities

enum class granularity_kind { tensor, channel, group };

/// One scale (and zero point) for the whole tensor.
struct per_tensor {
    using policy_kind = policy::granularity;
    static constexpr granularity_kind kind = granularity_kind::tensor;
    static const char* name() noexcept { return "per_tensor"; }
};

/// One scale per index along Axis (Axis 0 = output channels of a PyTorch weight).
template <int Axis = 0>
struct per_channel {
    static_assert(Axis >= 0, "per_channel<Axis> needs Axis >= 0 (0 = output channels)");
    using policy_kind = policy::granularity;
    static constexpr granularity_kind kind = granularity_kind::channel;
    static constexpr std::size_t axis = static_cast<std::size_t>(Axis);
    static const char* name() noexcept { return "per_channel"; }
};

/// What per_group does when the row length is not a multiple of G.
enum class partial_group {
    allow,   ///< the last group of each row is shorter (default)
    reject,  ///< throw shape_error
};

/// One scale per G consecutive weights along the input (last) axis of each row; an N-d
/// weight [out, in, kh, kw] is grouped as the 2-d [out, in·kh·kw].
template <int G, partial_group Partial = partial_group::allow>
struct per_group {
    static_assert(G > 0, "per_group<G> needs a group size G > 0");
    using policy_kind = policy::granularity;
    static constexpr granularity_kind kind = granularity_kind::group;
    static constexpr std::size_t group_size = static_cast<std::size_t>(G);
    static constexpr bool allow_partial = Partial == partial_group::allow;
    static const char* name() noexcept { return "per_group"; }
};

// ---------------------------------------------------------------------------- rounding

/// Round half to even (IEEE default; what PyTorch's quantize uses).
struct nearest_even {
    using policy_kind = policy::rounding;
    static const char* name() noexcept { return "nearest_even"; }
};

/// Stochastic rounding: floor(v + u) with u uniform in [0, 1) drawn from a counter-based
/// generator keyed by (seed, element index), so results are reproducible and do not depend
/// on the SIMD width. Unbiased: E[round(v)] = v.
struct stochastic {
    using policy_kind = policy::rounding;
    std::uint64_t seed = 0;
    static const char* name() noexcept { return "stochastic"; }
};

namespace detail {

template <class F>
inline constexpr bool is_integer_format_v = F::family == format_family::integer;

/// The rules that make a combination invalid (each a static_assert in check_scheme / quantizer,
/// and together compress::is_valid_scheme_v). The slots must hold policies of the right kind.
template <class Format, class Mapping>
inline constexpr bool mapping_fits_v = !Mapping::is_affine || Format::family == format_family::integer;
template <class Format, class Granularity>
inline constexpr bool granularity_fits_v =
    Format::family != format_family::floating || Format::scaled || Granularity::kind == granularity_kind::tensor;
template <class ScaleFormat>
inline constexpr bool scale_format_fits_v = std::is_same_v<ScaleFormat, float> || std::is_same_v<ScaleFormat, fp16>;
template <class Format, class Rounding>
inline constexpr bool rounding_fits_v = std::is_same_v<Rounding, nearest_even> ||
                                        Format::family == format_family::integer ||
                                        Format::family == format_family::pow2;
/// binary and ternary take α from the weights: their Observer slot is unused. (Only asked of
/// an observer: a type of another kind fails its own kind check.)
template <class Format, class Observer, bool = is_policy_v<Observer, policy::observer>>
struct observer_fits : std::true_type {};
template <class Format, class Observer>
struct observer_fits<Format, Observer, true>
    : std::bool_constant<!Observer::integer_formats_only || Format::family == format_family::integer ||
                         Format::family == format_family::binary || Format::family == format_family::ternary> {};
template <class Format, class Observer>
inline constexpr bool observer_fits_v = observer_fits<Format, Observer>::value;

/// Static checks of a (format, mapping, granularity, scale format) combination, shared by
/// quantizer and quantized_tensor.
template <class Format, class Mapping, class Granularity, class ScaleFormat>
struct check_scheme {
    COMPRESS_REQUIRE_POLICY(Format, format,
                            "quantizer: the Format must be a number format (int8, uint8, int4, uint4, int2, "
                            "ternary, binary, pow2<Bits>, fp16, bf16, fp8_e4m3, fp8_e5m2)");
    COMPRESS_REQUIRE_POLICY(Mapping, mapping, "quantizer: the Mapping must be symmetric or affine");
    COMPRESS_REQUIRE_POLICY(Granularity, granularity,
                            "quantizer: the Granularity must be per_tensor, per_channel<Axis> or per_group<G>");
    static_assert(mapping_fits_v<Format, Mapping>,
                  "affine mapping needs an integer format (int8, uint8, int4, uint4, int2); binary, ternary, "
                  "pow2 and floating-point formats are symmetric");
    static_assert(granularity_fits_v<Format, Granularity>,
                  "fp16 and bf16 are plain casts without a scale: use per_tensor");
    static_assert(scale_format_fits_v<ScaleFormat>, "scales are stored as float or fp16");
    static constexpr bool ok = true;
};

}  // namespace detail
}  // namespace compress
