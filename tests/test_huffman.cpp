// Entropy, Huffman coding and the relative-index sparse layout of cluster.hpp.
#include <catch2/catch.hpp>

#include <cmath>
#include <random>

#include <compress/cluster.hpp>

using namespace compress;
using Catch::Matchers::Contains;
using Catch::Matchers::StartsWith;

namespace {
std::vector<std::uint32_t> skewed_symbols(std::size_t n, std::size_t alphabet, unsigned seed) {
    std::mt19937 rng(seed);
    std::geometric_distribution<int> d(0.35);
    std::vector<std::uint32_t> s(n);
    for (auto& v : s) v = std::uint32_t(std::min<int>(d(rng), int(alphabet) - 1));
    return s;
}
}  // namespace

TEST_CASE("entropy_bits: hand-computed values", "[huffman]") {
    CHECK(entropy_bits({}) == 0.0);
    CHECK(entropy_bits({3, 3, 3, 3}) == 0.0);
    CHECK(entropy_bits({0, 0, 1, 1}) == Approx(1.0));
    CHECK(entropy_bits({0, 1, 2, 3}) == Approx(2.0));
    CHECK(entropy_bits({0, 0, 0, 1}) == Approx(-(0.75 * std::log2(0.75) + 0.25 * std::log2(0.25))));
    mask<1> all({4}, true);
    shared_weights<1> sw(all, {0.f, 1.f}, {0, 1, 1, 1});
    CHECK(index_entropy(sw) == Approx(entropy_bits({0, 1, 1, 1})));
}

TEST_CASE("huffman_code_lengths: hand-computed tree and Kraft equality", "[huffman]") {
    // 5, 2, 1, 1: merge 1+1, then 2+2, then 5+4 -> lengths 1, 2, 3, 3.
    CHECK(huffman_code_lengths({5, 2, 1, 1}) == std::vector<std::uint8_t>{1, 2, 3, 3});
    CHECK(huffman_code_lengths({0, 7, 0}) == std::vector<std::uint8_t>{0, 1, 0});
    CHECK(huffman_code_lengths({1, 1, 1, 1}) == std::vector<std::uint8_t>{2, 2, 2, 2});
    CHECK(huffman_code_lengths({}).empty());
    std::vector<std::uint64_t> f = {40, 1, 3, 90, 12, 0, 7, 7, 2};
    auto l = huffman_code_lengths(f);
    double kraft = 0.0;
    for (auto x : l)
        if (x) kraft += std::ldexp(1.0, -int(x));
    CHECK(kraft == Approx(1.0));
    CHECK(l[5] == 0);
}

TEST_CASE("huffman_encode: canonical codes, hand-checked bit stream", "[huffman]") {
    // Frequencies 5, 2, 1, 1 -> canonical codes 0, 10, 110, 111.
    std::vector<std::uint32_t> s = {0, 0, 0, 0, 0, 1, 1, 2, 3};
    auto e = huffman_encode(s, 4);
    CHECK(e.lengths == std::vector<std::uint8_t>{1, 2, 3, 3});
    CHECK(e.bit_count == 5 * 1 + 2 * 2 + 3 + 3);
    // stream bits (first bit = bit 0 of byte 0): 0 0 0 0 0 1 0 1 | 0 1 1 0 1 1 1
    CHECK(e.bits == std::vector<std::uint8_t>{0xA0, 0x76});
    CHECK(e.bytes() == 4 + 2 + 8);
    CHECK(huffman_decode(e) == s);
}

TEST_CASE("huffman round-trips and is within one bit of the entropy", "[huffman]") {
    for (unsigned seed : {1u, 2u, 3u}) {
        auto s = skewed_symbols(5000, 32, seed);
        auto e = huffman_encode(s, 32);
        CHECK(huffman_decode(e) == s);
        const double h = entropy_bits(s);
        const double avg = double(e.bit_count) / double(s.size());
        CHECK(avg >= h - 1e-9);
        CHECK(avg < h + 1.0);
        CHECK(avg < 5.0);  // better than the 5-bit fixed-width code
    }
    // Degenerate streams.
    std::vector<std::uint32_t> one(17, 6);
    auto e1 = huffman_encode(one, 8);
    CHECK(e1.bit_count == 17);
    CHECK(huffman_decode(e1) == one);
    auto e0 = huffman_encode({}, 8);
    CHECK(e0.bit_count == 0);
    CHECK(huffman_decode(e0).empty());
}

TEST_CASE("huffman_decode rejects hostile or damaged streams with format_error", "[huffman][errors]") {
    std::vector<std::uint32_t> s = {0, 0, 0, 0, 0, 1, 1, 2, 3};
    const auto good = huffman_encode(s, 4);
    auto e = good;
    e.bit_count -= 3;  // 12 bits: 2 bytes still, but the last symbol is cut
    CHECK_THROWS_AS(huffman_decode(e), format_error);
    CHECK_THROWS_WITH(huffman_decode(e), "format error: huffman_decode: stream truncated at symbol 8 of 9");
    e = good;
    e.bits.push_back(0);
    CHECK_THROWS_WITH(huffman_decode(e), "format error: huffman_decode: stream of 3 bytes does not hold 15 bits");
    e = good;
    e.lengths = {1, 1, 1, 0};
    CHECK_THROWS_WITH(huffman_decode(e), "format error: huffman: code lengths are over-subscribed (Kraft sum > 1)");
    e = good;
    e.lengths[2] = 200;
    CHECK_THROWS_WITH(huffman_decode(e), StartsWith("format error: huffman: code length 200 of symbol 2 exceeds"));
    e = good;
    e.count = 1000;
    CHECK_THROWS_WITH(huffman_decode(e), "format error: huffman_decode: 1000 symbols cannot fit in 15 bits");
    e = good;
    e.count = 8;
    CHECK_THROWS_WITH(huffman_decode(e), "format error: huffman_decode: 3 trailing bits after 8 symbols");
    // An incomplete code: only "0" is valid, the stream holds a "1".
    huffman_encoded inc;
    inc.lengths = {1, 0};
    inc.bits = {0x02};
    inc.bit_count = 2;
    inc.count = 2;
    CHECK_THROWS_WITH(huffman_decode(inc), "format error: huffman_decode: invalid code at bit 1 (symbol 1)");
    huffman_encoded none;
    none.lengths = {0, 0};
    none.bits = {0x00};
    none.bit_count = 3;
    none.count = 1;
    CHECK_THROWS_WITH(huffman_decode(none), "format error: huffman_decode: symbols to decode but no code");
    CHECK_THROWS_AS(huffman_encode({0, 4}, 4), value_error);
    CHECK_THROWS_WITH(huffman_encode({0, 4}, 4), "value error: huffman_encode: symbol 4 at 1 is outside the alphabet [0, 4)");
}

TEST_CASE("relative_encode: hand-computed gaps with escapes, round trip", "[huffman][relative]") {
    // Kept positions 0, 3, 4, 19 of 20; 3-bit gaps (escape 7): 0, 2, 0, then 14 = 7 + 7 + 0.
    xt::xtensor<int, 2> flags = xt::zeros<int>({1, 20});
    flags(0, 0) = flags(0, 3) = flags(0, 4) = flags(0, 19) = 1;
    auto keep = mask<2>::from_flags(flags);
    shared_weights<2> sw(keep, {-1.0f, 0.5f, 2.0f}, {0, 2, 1, 2});
    auto r = relative_encode(sw, 3);
    CHECK(r.escape() == 7u);
    CHECK(r.gaps == std::vector<std::uint32_t>{0, 2, 0, 7, 7, 0});
    CHECK(r.codes == std::vector<std::uint32_t>{0, 2, 1, 2});
    CHECK(r.bytes() == (6 * 3 + 4 * 2 + 7) / 8 + 3 * 4);
    auto d = r.to_dense();
    CHECK((d == sw.to_dense()));
    CHECK(d(0, 19) == 2.0f);
    CHECK(d(0, 3) == 2.0f);
    CHECK(d(0, 4) == 0.5f);
    // Random sparse tensors, every gap width.
    std::mt19937 rng(3);
    std::bernoulli_distribution b(0.08);
    std::normal_distribution<float> n(0.0f, 1.0f);
    xt::xtensor<float, 2> w = xt::zeros<float>({30, 40});
    for (auto& v : w)
        if (b(rng)) v = n(rng);
    auto km = mask<2>::from_flags(xt::xtensor<int, 2>(xt::not_equal(w, 0.0f)));
    auto shared = cluster(w, 8, km);
    for (unsigned bits = 1; bits <= 9; ++bits) {
        auto ri = relative_encode(shared, bits);
        CHECK((ri.to_dense() == shared.to_dense()));
        CHECK(ri.codes.size() == km.kept());
    }
}

TEST_CASE("relative_indexed rejects hostile contents with format_error", "[huffman][relative][errors]") {
    mask<1> keep({10}, false);
    keep.set(2, true);
    keep.set(9, true);
    shared_weights<1> sw(keep, {1.0f, 2.0f}, {1, 0});
    const auto good = relative_encode(sw, 2);
    REQUIRE(good.gaps == std::vector<std::uint32_t>{2, 3, 3, 0});
    auto r = good;
    r.gaps[0] = 4;
    CHECK_THROWS_WITH(r.to_dense(), "format error: relative_indexed: gap 4 at 0 does not fit in 2 bits");
    r = good;
    r.codes[1] = 2;
    CHECK_THROWS_WITH(r.to_dense(), "format error: relative_indexed: code 2 at 1 is not below k = 2");
    r = good;
    r.gaps.push_back(1);
    CHECK_THROWS_WITH(r.to_dense(), "format error: relative_indexed: position 11 past the end (10 entries)");
    r = good;
    r.codes.push_back(0);
    CHECK_THROWS_WITH(r.to_dense(), "format error: relative_indexed: 3 codes for 2 weights");
    r = good;
    r.codes.pop_back();
    CHECK_THROWS_WITH(r.to_dense(), "format error: relative_indexed: more weights than codes");
    r = good;
    r.gap_bits = 0;
    CHECK_THROWS_AS(r.to_dense(), format_error);
    CHECK_THROWS_AS(relative_encode(sw, 0), value_error);
    CHECK_THROWS_WITH(relative_encode(sw, 17), "value error: relative_encode: gap_bits must be in [1, 16], got 17");
}
