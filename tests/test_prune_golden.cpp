// prune.hpp against torch.nn.utils.prune: the masks in tests/golden/prune (written by
// tests/golden/golden_prune.py with Debian's python3-torch) must be identical, bit for bit.
#include <catch2/catch.hpp>

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <compress/prune.hpp>

#include "npy_test_util.hpp"

using namespace compress;

namespace {
const std::string dir = std::string(COMPRESS_GOLDEN_DIR) + "/prune/";

std::vector<std::string> split(const std::string& s, char sep) {
    std::vector<std::string> out;
    std::stringstream ss(s);
    std::string item;
    while (std::getline(ss, item, sep)) out.push_back(item);
    return out;
}

amount parse_amount(const std::string& kind, const std::string& v) {
    return kind == "c" ? amount::count(std::stoul(v)) : amount::fraction(std::stod(v));
}

template <std::size_t N>
bool same(const mask<N>& m, const std::string& file) {
    auto g = npy_test::load_tensor<std::uint8_t, N>(dir + file + ".npy");
    for (std::size_t d = 0; d < N; ++d)
        if (g.shape()[d] != m.shape()[d]) return false;
    return std::equal(g.begin(), g.end(), m.data());
}

template <std::size_t N>
bool ln_case(const std::string& tensor, const std::string& n, int dim, const amount& a, const std::string& maskfile) {
    auto w = npy_test::load_tensor<float, N>(dir + tensor + ".npy");
    mask<N> m;
    if (dim == 0) {
        if (n == "1") m = compute_mask<magnitude, rows<l1>>(w, a);
        else if (n == "2") m = compute_mask<magnitude, rows<l2>>(w, a);
        else m = compute_mask<magnitude, rows<linf>>(w, a);
    } else {
        if (n == "1") m = compute_mask<magnitude, columns<l1>>(w, a);
        else if (n == "2") m = compute_mask<magnitude, columns<l2>>(w, a);
        else m = compute_mask<magnitude, columns<linf>>(w, a);
    }
    return same(m, maskfile);
}

std::size_t rank_of(const std::string& tensor) { return npy_test::load(dir + tensor + ".npy").shape.size(); }
}  // namespace

TEST_CASE("golden masks from torch.nn.utils.prune are reproduced exactly", "[prune][golden]") {
    std::ifstream f(dir + "cases.txt");
    REQUIRE(f);
    std::string line;
    int l1 = 0, ln = 0, glob = 0;
    while (std::getline(f, line)) {
        if (line.empty()) continue;
        const auto t = split(line, ' ');
        INFO(line);
        if (t[0] == "l1_unstructured") {
            const auto a = parse_amount(t[2], t[3]);
            if (rank_of(t[1]) == 2) {
                auto w = npy_test::load_tensor<float, 2>(dir + t[1] + ".npy");
                CHECK(same(compute_mask<magnitude>(w, a), t[4]));
                CHECK(same(compute_mask<magnitude, unstructured>(xt::xtensor<double, 2>(w), a), t[4]));
            } else {
                auto w = npy_test::load_tensor<float, 4>(dir + t[1] + ".npy");
                CHECK(same(compute_mask<magnitude>(w, a), t[4]));
            }
            ++l1;
        } else if (t[0] == "ln_structured") {
            const auto a = parse_amount(t[4], t[5]);
            const int dim = std::stoi(t[3]);
            if (rank_of(t[1]) == 2) CHECK(ln_case<2>(t[1], t[2], dim, a, t[6]));
            else CHECK(ln_case<4>(t[1], t[2], dim, a, t[6]));
            ++ln;
        } else if (t[0] == "global_unstructured") {
            const auto names = split(t[1], ',');
            const auto masks = split(t[4], ',');
            REQUIRE(names.size() == 3);
            auto a0 = npy_test::load_tensor<float, 2>(dir + names[0] + ".npy");
            auto a1 = npy_test::load_tensor<float, 2>(dir + names[1] + ".npy");
            auto a2 = npy_test::load_tensor<float, 4>(dir + names[2] + ".npy");
            const auto a = parse_amount(t[2], t[3]);
            auto [m0, m1, m2] = compute_mask_global<magnitude>(std::tie(a0, a1, a2), a);
            CHECK(same(m0, masks[0]));
            CHECK(same(m1, masks[1]));
            CHECK(same(m2, masks[2]));
            // prune_global zeroes exactly the masked weights in place.
            auto b0 = a0;
            auto b1 = a1;
            auto b2 = a2;
            auto pm = prune_global<magnitude>(std::tie(b0, b1, b2), a);
            CHECK(std::get<0>(pm) == m0);
            CHECK((b0 == m0.applied(a0)));
            CHECK((b2 == m2.applied(a2)));
            ++glob;
        } else {
            FAIL("unknown golden case " << t[0]);
        }
    }
    CHECK(l1 >= 9);
    CHECK(ln >= 30);
    CHECK(glob >= 3);
}
