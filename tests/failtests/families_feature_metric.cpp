// Misuse: feature_loss<Metric> with a type that is not a feature metric.
#include <compress/distill.hpp>
namespace {
struct not_a_metric {};
}  // namespace
int main() {
#ifdef COMPRESS_FAILTEST_OK
    compress::feature_loss<compress::cosine> f;
#else
    compress::feature_loss<not_a_metric> f;
#endif
    return f.has_projection() ? 1 : 0;
}
