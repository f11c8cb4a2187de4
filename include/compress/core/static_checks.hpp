#pragma once
// Compile-time checks on policy types. Each policy struct declares its kind with a
// `policy_kind` member type; slots of a template check the kind and give a readable message.

#include <type_traits>

namespace compress {

/// Policy kinds (the `policy_kind` of a policy struct).
namespace policy {
struct criterion {};
struct grouping {};
struct norm {};
struct format {};
struct mapping {};
struct granularity {};
struct observer {};
struct rounding {};
struct sparse_format {};
struct feature_metric {};
struct penalty {};
struct cluster_init {};
}  // namespace policy

namespace detail {

template <class T, class = void>
struct policy_kind_of { using type = void; };
template <class T>
struct policy_kind_of<T, std::void_t<typename T::policy_kind>> { using type = typename T::policy_kind; };

/// True when T declares `using policy_kind = Kind;`.
template <class T, class Kind>
inline constexpr bool is_policy_v = std::is_same_v<typename policy_kind_of<T>::type, Kind>;

/// For `static_assert(dependent_false<T>, "...")` in a branch that must not be instantiated.
template <class...>
inline constexpr bool dependent_false = false;

}  // namespace detail
}  // namespace compress

/// Checks that a template argument is a policy of the expected kind, e.g.
/// COMPRESS_REQUIRE_POLICY(Criterion, criterion, "prune<Criterion, Grouping>: the first argument must be a pruning criterion (magnitude, random, taylor, ...)");
#define COMPRESS_REQUIRE_POLICY(T, kind, message) \
    static_assert(::compress::detail::is_policy_v<T, ::compress::policy::kind>, message)
