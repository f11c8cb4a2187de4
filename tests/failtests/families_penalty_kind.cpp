// Misuse: a policy of another kind (a k-means initialisation) where a penalty is expected.
#include <compress/cluster.hpp>
#include <compress/regularize.hpp>
int main() {
    xt::xtensor<float, 2> w = {{1.0f, -2.0f}};
#ifdef COMPRESS_FAILTEST_OK
    return compress::penalty<compress::l1_penalty>(w) > 0.0 ? 0 : 1;
#else
    return compress::penalty<compress::linear_init>(w) > 0.0 ? 0 : 1;
#endif
}
