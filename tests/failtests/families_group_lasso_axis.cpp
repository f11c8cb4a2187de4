// Misuse: group_lasso<Axis> with an axis other than 0 (rows) or 1 (columns).
#include <compress/regularize.hpp>
int main() {
    xt::xtensor<float, 2> w = {{1.0f, -2.0f}};
#ifdef COMPRESS_FAILTEST_OK
    return compress::penalty<compress::group_lasso<1>>(w) > 0.0 ? 0 : 1;
#else
    return compress::penalty<compress::group_lasso<2>>(w) > 0.0 ? 0 : 1;
#endif
}
