// Misuse: an activation criterion with a grouping that is not rows/columns.
#include <compress/prune.hpp>
#include <xtensor/xtensor.hpp>
int main() {
    xt::xtensor<float, 2> w = {{1.f, 2.f, 3.f, 4.f}, {5.f, 6.f, 7.f, 8.f}};
    xt::xtensor<float, 1> v = {1.f, 2.f, 3.f, 4.f};
    (void)v;
#ifdef COMPRESS_FAILTEST_OK
    auto m = compress::compute_mask<compress::apoz, compress::rows<compress::l1>>(w, 0.5, compress::prune_context<float, 2>{});
#else
    auto m = compress::compute_mask<compress::apoz, compress::unstructured>(w, 0.5, compress::prune_context<float, 2>{});
#endif
    return static_cast<int>(m.kept() == 0);
}
