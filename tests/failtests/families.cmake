# Failtests of distill.hpp, regularize.hpp, cluster.hpp: one per kind of misuse.
compress_add_failtest(families_feature_metric ${CMAKE_CURRENT_LIST_DIR}/families_feature_metric.cpp
                      "Metric must be a feature metric")
compress_add_failtest(families_penalty_kind ${CMAKE_CURRENT_LIST_DIR}/families_penalty_kind.cpp
                      "Penalty must be a regularization penalty")
compress_add_failtest(families_group_lasso_axis ${CMAKE_CURRENT_LIST_DIR}/families_group_lasso_axis.cpp
                      "group_lasso<Axis>: Axis must be 0")
compress_add_failtest(families_cluster_init ${CMAKE_CURRENT_LIST_DIR}/families_cluster_init.cpp
                      "Init must be a k-means initialisation")
