#pragma once
// A tiny .npy reader for the golden-file tests (little-endian f4, f8, b1, u1, i8; C order).
// Test-only: io.hpp is the library's reader; this one exists so golden tests do not depend on it.

#include <cstdint>
#include <cstring>
#include <fstream>
#include <stdexcept>
#include <string>
#include <vector>

#include <xtensor/xadapt.hpp>
#include <xtensor/xtensor.hpp>

namespace npy_test {

struct array {
    std::string descr;
    std::vector<std::size_t> shape;
    std::vector<char> bytes;

    std::size_t size() const {
        std::size_t n = 1;
        for (auto d : shape) n *= d;
        return n;
    }
};

inline std::string header_value(const std::string& h, const std::string& key) {
    const auto k = h.find("'" + key + "'");
    if (k == std::string::npos) throw std::runtime_error("npy: no key " + key);
    auto p = h.find(':', k) + 1;
    while (h[p] == ' ') ++p;
    if (h[p] == '\'') return h.substr(p + 1, h.find('\'', p + 1) - p - 1);
    if (h[p] == '(') return h.substr(p + 1, h.find(')', p) - p - 1);
    return h.substr(p, h.find_first_of(",}", p) - p);
}

inline array load(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    if (!f) throw std::runtime_error("npy: cannot open " + path);
    char magic[8];
    f.read(magic, 8);
    if (!f || std::memcmp(magic, "\x93NUMPY", 6) != 0) throw std::runtime_error("npy: bad magic in " + path);
    std::size_t hlen = 0;
    if (magic[6] == 1) {
        unsigned char b[2];
        f.read(reinterpret_cast<char*>(b), 2);
        hlen = b[0] | (std::size_t(b[1]) << 8);
    } else {
        unsigned char b[4];
        f.read(reinterpret_cast<char*>(b), 4);
        hlen = b[0] | (std::size_t(b[1]) << 8) | (std::size_t(b[2]) << 16) | (std::size_t(b[3]) << 24);
    }
    std::string h(hlen, '\0');
    f.read(&h[0], static_cast<std::streamsize>(hlen));
    array a;
    a.descr = header_value(h, "descr");
    if (header_value(h, "fortran_order") != "False") throw std::runtime_error("npy: fortran order in " + path);
    const std::string shp = header_value(h, "shape");
    std::size_t p = 0;
    while (p < shp.size()) {
        while (p < shp.size() && (shp[p] == ' ' || shp[p] == ',')) ++p;
        if (p >= shp.size()) break;
        std::size_t q = p;
        while (q < shp.size() && shp[q] >= '0' && shp[q] <= '9') ++q;
        a.shape.push_back(std::stoul(shp.substr(p, q - p)));
        p = q;
    }
    std::size_t item = 0;
    if (a.descr == "<f4") item = 4;
    else if (a.descr == "<f8" || a.descr == "<i8") item = 8;
    else if (a.descr == "|b1" || a.descr == "|u1") item = 1;
    else throw std::runtime_error("npy: unsupported dtype " + a.descr + " in " + path);
    a.bytes.resize(a.size() * item);
    f.read(a.bytes.data(), static_cast<std::streamsize>(a.bytes.size()));
    if (!f) throw std::runtime_error("npy: truncated " + path);
    return a;
}

/// The array as an xtensor of rank N and value type T (converted from the stored dtype).
template <class T, std::size_t N>
xt::xtensor<T, N> as_tensor(const array& a) {
    if (a.shape.size() != N) throw std::runtime_error("npy: rank mismatch");
    std::array<std::size_t, N> s{};
    for (std::size_t d = 0; d < N; ++d) s[d] = a.shape[d];
    xt::xtensor<T, N> out = xt::xtensor<T, N>::from_shape(s);
    const std::size_t n = a.size();
    for (std::size_t i = 0; i < n; ++i) {
        if (a.descr == "<f4") {
            float v;
            std::memcpy(&v, a.bytes.data() + 4 * i, 4);
            out.data()[i] = static_cast<T>(v);
        } else if (a.descr == "<f8") {
            double v;
            std::memcpy(&v, a.bytes.data() + 8 * i, 8);
            out.data()[i] = static_cast<T>(v);
        } else if (a.descr == "<i8") {
            std::int64_t v;
            std::memcpy(&v, a.bytes.data() + 8 * i, 8);
            out.data()[i] = static_cast<T>(v);
        } else {
            out.data()[i] = static_cast<T>(static_cast<unsigned char>(a.bytes[i]));
        }
    }
    return out;
}

template <class T, std::size_t N>
xt::xtensor<T, N> load_tensor(const std::string& path) {
    return as_tensor<T, N>(load(path));
}

}  // namespace npy_test
