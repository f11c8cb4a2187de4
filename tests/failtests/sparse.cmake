# Failtests of the sparse formats (static_assert on their numeric parameters).
compress_add_failtest(sparse_bsr_empty_block ${CMAKE_CURRENT_LIST_DIR}/sparse_bsr_empty_block.cpp "bsr<T,R,C> needs R >= 1 and C >= 1")
compress_add_failtest(sparse_n_of_m_order ${CMAKE_CURRENT_LIST_DIR}/sparse_n_of_m_order.cpp "n_of_m_matrix<T,N,M> needs 0 < N < M")
compress_add_failtest(sparse_n_of_m_wide ${CMAKE_CURRENT_LIST_DIR}/sparse_n_of_m_wide.cpp "n_of_m_matrix<T,N,M> needs M <= 256")
