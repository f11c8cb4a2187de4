#pragma once
// Architecture tags. Kernels take `class Arch = xsimd::default_arch`; passing
// `compress::scalar_arch` selects the portable scalar path (xsimd 8.1 has no scalar arch).

#include <type_traits>

#include <xsimd/xsimd.hpp>

namespace compress {

/// Selects the plain C++ path of a kernel. Integer kernels give bit-identical results on
/// this path and on every SIMD path.
struct scalar_arch {
    static constexpr const char* name() noexcept { return "scalar"; }
};

namespace detail {
template <class Arch>
inline constexpr bool is_scalar_arch_v = std::is_same_v<Arch, scalar_arch>;

/// Name of an architecture tag, for benchmarks and error messages.
template <class Arch>
constexpr const char* arch_name() noexcept { return Arch::name(); }
}  // namespace detail
}  // namespace compress
