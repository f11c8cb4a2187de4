// Misuse: cluster<Init> with a type that is not a k-means initialisation.
#include <compress/cluster.hpp>
#include <compress/regularize.hpp>
int main() {
    xt::xtensor<float, 1> w = {1.0f, -2.0f, 3.0f};
#ifdef COMPRESS_FAILTEST_OK
    return static_cast<int>(compress::cluster<compress::kmeans_plusplus>(w, 2).k()) - 2;
#else
    return static_cast<int>(compress::cluster<compress::l2_penalty>(w, 2).k()) - 2;
#endif
}
