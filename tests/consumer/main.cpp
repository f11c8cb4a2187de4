// Built against an installed compress package by tests/consumer/run.cmake.
#include <compress/prune.hpp>

#include <cstdio>
#include <xtensor/xtensor.hpp>

int main() {
    xt::xtensor<float, 2> w = {{0.5f, -0.1f, 0.05f, 2.0f}, {-3.0f, 0.2f, 0.01f, -0.4f}};
    compress::mask<2> m({2, 4});
    m.set(2, false);
    m.set(6, false);
    m.apply(w);
    bool ok = m.kept() == 6 && w(0, 2) == 0.0f && w(1, 2) == 0.0f && w(1, 0) == -3.0f && m.sparsity() == 0.25;
    // Magnitude pruning to 50%: the four smallest |w| (0, 0, -0.1, 0.2) are zeroed in place.
    auto p = compress::prune<compress::magnitude>(w, 0.5);
    ok = ok && p.kept() == 4 && w(0, 1) == 0.0f && w(1, 1) == 0.0f && w(0, 0) == 0.5f && w(1, 3) == -0.4f;
    std::printf(ok ? "consumer ok\n" : "consumer FAILED\n");
    return ok ? 0 : 1;
}
