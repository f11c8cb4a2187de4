// Reads the text golden files written by tests/golden/golden_quantize.py.
#pragma once

#include <cstdint>
#include <cstring>
#include <fstream>
#include <map>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace golden {

struct record {
    std::map<std::string, std::vector<std::string>> fields;

    const std::vector<std::string>& at(const std::string& k) const {
        auto it = fields.find(k);
        if (it == fields.end()) throw std::runtime_error("golden record has no field " + k);
        return it->second;
    }
    std::string str(const std::string& k) const { return at(k).at(0); }
    long integer(const std::string& k) const { return std::stol(at(k).at(0)); }
    std::vector<float> floats(const std::string& k) const {
        std::vector<float> out;
        for (const auto& s : at(k)) {
            const std::uint32_t u = static_cast<std::uint32_t>(std::stoul(s, nullptr, 16));
            float f;
            std::memcpy(&f, &u, sizeof f);
            out.push_back(f);
        }
        return out;
    }
    std::vector<long> ints(const std::string& k) const {
        std::vector<long> out;
        for (const auto& s : at(k)) out.push_back(std::stol(s));
        return out;
    }
    std::vector<std::size_t> shape() const {
        std::vector<std::size_t> out;
        for (const auto& s : at("shape")) out.push_back(static_cast<std::size_t>(std::stoul(s)));
        return out;
    }
};

inline std::vector<record> read(const std::string& path) {
    std::ifstream in(path);
    if (!in) throw std::runtime_error("cannot open golden file " + path + " (run tests/golden/make_golden.py)");
    std::vector<record> out;
    record cur;
    std::string line;
    while (std::getline(in, line)) {
        std::istringstream ls(line);
        std::string key;
        if (!(ls >> key)) continue;
        if (key == "end") {
            out.push_back(cur);
            cur = record{};
            continue;
        }
        std::vector<std::string> vals;
        std::string v;
        while (ls >> v) vals.push_back(v);
        cur.fields[key] = vals;
    }
    return out;
}

inline std::uint32_t bits(float f) {
    std::uint32_t u;
    std::memcpy(&u, &f, sizeof u);
    return u;
}

}  // namespace golden
