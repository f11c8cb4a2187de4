// Built against an installed compress package by tests/consumer/run.cmake, linking
// compress::lowrank (which brings LAPACKE) like a user of <compress/lowrank.hpp>.
#include <compress/lowrank.hpp>

#include <cstdio>
#include <xtensor/xtensor.hpp>

int main() {
    xt::xtensor<float, 2> w = {{3.0f, 0.0f, 0.0f}, {0.0f, 0.0f, -5.0f}};
    auto f = compress::low_rank(w, 1);
    const auto r = f.reconstruct();
    const bool ok = f.rank == 1 && r(1, 2) > -5.001f && r(1, 2) < -4.999f && f.energy > 0.73 && f.energy < 0.74;
    std::printf(ok ? "consumer lowrank ok\n" : "consumer lowrank FAILED\n");
    return ok ? 0 : 1;
}
