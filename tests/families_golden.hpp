#pragma once
// Reads the plain-text golden files of tests/golden/families/ (written by golden_families.py):
// a header line `name rank d0 d1 ...` then the values on one line.
#include <array>
#include <cstddef>
#include <fstream>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

#include <xtensor/xtensor.hpp>

namespace families_golden {

struct entry {
    std::vector<std::size_t> shape;
    std::vector<double> values;
};

inline std::map<std::string, entry> read(const std::string& file) {
    std::ifstream in(std::string(COMPRESS_GOLDEN_DIR) + "/families/" + file);
    if (!in) throw std::runtime_error("cannot open golden file " + file + " (run tests/golden/make_golden.py)");
    std::map<std::string, entry> out;
    std::string name;
    std::size_t rank = 0;
    while (in >> name >> rank) {
        entry e;
        std::size_t n = 1;
        for (std::size_t d = 0; d < rank; ++d) {
            std::size_t x = 0;
            in >> x;
            e.shape.push_back(x);
            n *= x;
        }
        e.values.resize(n);
        for (auto& v : e.values) in >> v;
        out[name] = e;
    }
    return out;
}

template <class T, std::size_t N>
xt::xtensor<T, N> tensor(const entry& e) {
    if (e.shape.size() != N) throw std::runtime_error("golden tensor has another rank");
    std::array<std::size_t, N> s{};
    for (std::size_t d = 0; d < N; ++d) s[d] = e.shape[d];
    xt::xtensor<T, N> t = xt::xtensor<T, N>::from_shape(s);
    for (std::size_t i = 0; i < e.values.size(); ++i) t.data()[i] = static_cast<T>(e.values[i]);
    return t;
}

}  // namespace families_golden
