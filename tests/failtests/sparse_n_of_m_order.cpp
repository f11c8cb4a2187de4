// n_of_m_matrix<T,N,M> with N >= M must not compile.
#include <compress/sparse.hpp>

int main() {
#if defined(COMPRESS_FAILTEST_OK)
    compress::n_of_m_matrix<float, 2, 4> m;
#else
    compress::n_of_m_matrix<float, 4, 4> m;
#endif
    return static_cast<int>(m.nnz());
}
