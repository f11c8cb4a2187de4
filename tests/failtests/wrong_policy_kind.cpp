// Misuse: a type of the wrong policy kind in a policy slot.
#include <compress/core/static_checks.hpp>
namespace {
struct my_criterion { using policy_kind = compress::policy::criterion; };
struct my_norm { using policy_kind = compress::policy::norm; };
template <class Criterion>
int use() {
    COMPRESS_REQUIRE_POLICY(Criterion, criterion, "use<Criterion>: Criterion must be a pruning criterion");
    return 0;
}
}  // namespace
int main() {
#ifdef COMPRESS_FAILTEST_OK
    return use<my_criterion>();
#else
    return use<my_norm>();
#endif
}
