// n_of_m_matrix<T,N,M> with M > 256 (positions wider than 8 bits) must not compile.
#include <compress/sparse.hpp>

int main() {
#if defined(COMPRESS_FAILTEST_OK)
    compress::n_of_m_matrix<float, 2, 256> m;
#else
    compress::n_of_m_matrix<float, 2, 512> m;
#endif
    return static_cast<int>(m.nnz());
}
