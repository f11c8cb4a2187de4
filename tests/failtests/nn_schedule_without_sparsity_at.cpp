// scheduled_pruning<Schedule> needs a schedule answering sparsity_at(step) -> std::optional<double>.
#include <compress/nn.hpp>

#include <optional>

struct good_schedule {
    std::optional<double> sparsity_at(std::size_t) const { return 0.5; }
};
struct not_a_schedule {
    double amount(std::size_t) const { return 0.5; }
};

int main() {
    compress::nn::param<2> p({2, 2});
    compress::nn::parameter_list list({compress::nn::parameter("w", &p)});
#ifdef COMPRESS_FAILTEST_OK
    compress::nn::scheduled_pruning<good_schedule> s(list, good_schedule{}, 1, [](const compress::nn::parameter&, double) {});
#else
    compress::nn::scheduled_pruning<not_a_schedule> s(list, not_a_schedule{}, 1, [](const compress::nn::parameter&, double) {});
#endif
    s(1);
    return 0;
}
