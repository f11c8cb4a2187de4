// bsr<T,R,C> with a zero block extent must not compile.
#include <compress/sparse.hpp>

int main() {
#if defined(COMPRESS_FAILTEST_OK)
    compress::bsr<float, 4, 4> b;
#else
    compress::bsr<float, 0, 4> b;
#endif
    return static_cast<int>(b.nnz());
}
