// quantized_tensor: the fixed packed layout, accessors, bytes(), from_parts validation.
#include <catch2/catch.hpp>

#include <cstdint>
#include <vector>

#include <compress/quantize.hpp>

using namespace compress;

TEST_CASE("int4 rows: low nibble for even k, high for odd, two's complement, byte padding", "[quantized_tensor]") {
    quantized_tensor<int4, symmetric, per_channel<0>> q({2, 5});
    REQUIRE(q.rows() == 2);
    REQUIRE(q.cols() == 5);
    REQUIRE(q.row_stride() == 3);  // ceil(5/2)
    const int vals[2][5] = {{-8, 7, -1, 0, 3}, {1, -2, 5, -7, -8}};
    for (std::size_t r = 0; r < 2; ++r)
        for (std::size_t c = 0; c < 5; ++c) q.set_code(r, c, vals[r][c]);
    const std::uint8_t* b = q.codes();
    CHECK(b[0] == 0x78);  // k0 = -8 -> 0x8 low, k1 = 7 -> 0x7 high
    CHECK(b[1] == 0x0F);  // k2 = -1 -> 0xF low, k3 = 0 high
    CHECK(b[2] == 0x03);  // k4 = 3 low, padding nibble 0
    CHECK(b[3] == 0xE1);  // row 1 starts at byte 3: 1 low, -2 = 0xE high
    CHECK(b[4] == 0x95);  // 5 low, -7 = 0x9 high
    CHECK(b[5] == 0x08);
    for (std::size_t r = 0; r < 2; ++r)
        for (std::size_t c = 0; c < 5; ++c) CHECK(q.code(r, c) == vals[r][c]);
    CHECK(q.num_scales() == 2);
    CHECK(q.bytes() == 6 + 2 * sizeof(float));
}

TEST_CASE("uint4, int2 and int8 layouts", "[quantized_tensor]") {
    quantized_tensor<uint4, affine, per_tensor> u({1, 3});
    u.set_code(0, 0, 15);
    u.set_code(0, 1, 1);
    u.set_code(0, 2, 9);
    CHECK(u.codes()[0] == 0x1F);
    CHECK(u.codes()[1] == 0x09);
    CHECK(u.code(0, 0) == 15);
    CHECK(u.bytes() == 2 + 4 + 1);  // codes, one float scale, one zero point

    quantized_tensor<int2, symmetric, per_tensor> t({2, 6});
    REQUIRE(t.row_stride() == 2);
    const int v[6] = {-2, -1, 0, 1, 1, -2};
    for (std::size_t c = 0; c < 6; ++c) t.set_code(1, c, v[c]);
    // element k at bits 2*(k%4): -2 = 0b10, -1 = 0b11, 0 = 0b00, 1 = 0b01
    CHECK(t.codes()[2] == static_cast<std::uint8_t>(0b01001110));
    CHECK(t.codes()[3] == static_cast<std::uint8_t>(0b00001001));
    for (std::size_t c = 0; c < 6; ++c) CHECK(t.code(1, c) == v[c]);

    quantized_tensor<int8, symmetric, per_channel<0>> i8({3, 4});
    i8.set_code(2, 3, -128);
    CHECK(i8.codes()[11] == 0x80);
    CHECK(i8.code(2, 3) == -128);
    CHECK(i8.row_stride() == 4);
}

TEST_CASE("binary and ternary bit planes", "[quantized_tensor]") {
    quantized_tensor<binary, symmetric, per_channel<0>> b({2, 70});
    REQUIRE(b.words_per_plane() == 2);
    REQUIRE(b.row_stride() == 16);
    for (std::size_t c = 0; c < 70; ++c) b.set_code(1, c, (c % 3 == 0) ? 1 : -1);
    const std::uint64_t* w = b.row_words(1);
    for (std::size_t c = 0; c < 70; ++c) CHECK(((w[c / 64] >> (c % 64)) & 1u) == (c % 3 == 0 ? 1u : 0u));
    CHECK((w[1] >> 6) == 0u);  // padding
    CHECK(b.row_words(0)[0] == 0u);
    CHECK(b.bytes() == 32 + 2 * 4);

    quantized_tensor<ternary, symmetric, per_channel<0>> t({1, 65});
    REQUIRE(t.row_stride() == 32);
    t.set_code(0, 0, 1);
    t.set_code(0, 1, -1);
    t.set_code(0, 64, -1);
    CHECK(t.row_words(0, 0)[0] == 0b11u);
    CHECK(t.row_words(0, 1)[0] == 0b10u);
    CHECK(t.row_words(0, 0)[1] == 1u);
    CHECK(t.row_words(0, 1)[1] == 1u);
    CHECK(t.code(0, 0) == 1);
    CHECK(t.code(0, 1) == -1);
    CHECK(t.code(0, 2) == 0);
    CHECK(t.code(0, 64) == -1);
}

TEST_CASE("scale shapes: per_tensor, per_channel, per_group with a partial last group", "[quantized_tensor]") {
    quantized_tensor<int4, symmetric, per_group<32>, 2, fp16> g({3, 70});
    CHECK(g.groups_per_row() == 3);
    CHECK(g.num_scales() == 9);
    CHECK((g.scale_shape() == std::vector<std::size_t>{3, 3}));
    CHECK(g.scale_index(1, 69) == 5);
    CHECK(g.bytes() == 3 * 35 + 9 * 2);
    // 4-d conv weight [out, in, kh, kw] is grouped as [out, in*kh*kw]
    quantized_tensor<int8, symmetric, per_group<16>, 4> c({4, 3, 3, 3});
    CHECK(c.rows() == 4);
    CHECK(c.cols() == 27);
    CHECK(c.num_scales() == 8);
    // per_channel on another axis of a 3-d tensor
    quantized_tensor<int8, affine, per_channel<1>, 3> a({2, 3, 4});
    CHECK(a.num_scales() == 3);
    CHECK(a.scale_index(1, 5) == 1);  // element (1, 1, 1)
    CHECK(a.num_zero_points() == 3);
    // int4 per_group<32> with fp16 scales is 4.5 bits per weight
    quantized_tensor<int4, symmetric, per_group<32>, 2, fp16> q40({64, 4096});
    CHECK(q40.bits_per_weight() == 4.5);
}

TEST_CASE("granularity misfits throw shape_error", "[quantized_tensor]") {
    using bad_axis = quantized_tensor<int8, symmetric, per_channel<2>>;
    CHECK_THROWS_AS(bad_axis({4, 4}), shape_error);
    CHECK_THROWS_WITH(bad_axis({4, 4}),
                      "shape error: per_channel<2>: axis out of range for a tensor of shape [4, 4]");
    using strict = quantized_tensor<int4, symmetric, per_group<32, partial_group::reject>>;
    CHECK_NOTHROW(strict({2, 64}));
    CHECK_THROWS_AS(strict({2, 70}), shape_error);
    CHECK_THROWS_WITH(strict({2, 70}), Catch::Matchers::Contains("row length 70") &&
                                           Catch::Matchers::Contains("not a multiple of the group size"));
}

TEST_CASE("from_parts validates sizes, padding, scales and zero points", "[quantized_tensor]") {
    using Q = quantized_tensor<int4, affine, per_channel<0>>;
    std::vector<std::uint8_t> codes = {0x21, 0x03, 0x54, 0x06};  // rows of 3 codes: 1,2,3 and 4,5,6
    auto q = Q::from_parts({2, 3}, codes.data(), codes.size(), {0.5f, 0.25f}, {0, -1});
    CHECK(q.code(0, 2) == 3);
    CHECK(q.code(1, 0) == 4);
    CHECK(q.value(1, 0) == (4 + 1) * 0.25f);
    CHECK(q == Q::from_parts({2, 3}, codes.data(), codes.size(), {0.5f, 0.25f}, {0, -1}));
    CHECK_THROWS_AS(Q::from_parts({2, 3}, codes.data(), 3, {0.5f, 0.25f}, {0, 0}), format_error);
    CHECK_THROWS_WITH(Q::from_parts({2, 3}, codes.data(), 3, {0.5f, 0.25f}, {0, 0}),
                      "format error: quantized_tensor<int4>: shape [2, 3] needs 4 bytes of codes, got 3");
    CHECK_THROWS_WITH(Q::from_parts({2, 3}, codes.data(), 4, {0.5f}, {0, 0}),
                      Catch::Matchers::Contains("needs 2 scales, got 1"));
    CHECK_THROWS_WITH(Q::from_parts({2, 3}, codes.data(), 4, {0.5f, 0.25f}, {0}),
                      Catch::Matchers::Contains("needs 2 zero points, got 1"));
    CHECK_THROWS_WITH(Q::from_parts({2, 3}, codes.data(), 4, {0.5f, -1.0f}, {0, 0}),
                      Catch::Matchers::Contains("scale 1 is -1"));
    CHECK_THROWS_WITH(Q::from_parts({2, 3}, codes.data(), 4, {0.5f, 1.0f}, {0, 9}),
                      Catch::Matchers::Contains("zero point 1 is 9, outside [-8, 7]"));
    std::vector<std::uint8_t> bad = {0x21, 0x13, 0x54, 0x06};  // padding nibble of row 0 set
    CHECK_THROWS_WITH(Q::from_parts({2, 3}, bad.data(), 4, {0.5f, 0.25f}, {0, 0}),
                      "format error: quantized_tensor<int4>: row 0 has nonzero padding bits");
    using T = quantized_tensor<ternary, symmetric, per_tensor>;
    std::vector<std::uint8_t> tern(16, 0);
    tern[8] = 1;  // negative bit without nonzero bit
    CHECK_THROWS_WITH(T::from_parts({1, 3}, tern.data(), 16, {1.0f}),
                      Catch::Matchers::Contains("negative bit set on a zero weight"));
}

TEST_CASE("dequantize of hand-set codes", "[quantized_tensor]") {
    quantized_tensor<uint8, symmetric, per_tensor> u({1, 3});
    u.scales()[0] = 0.5f;
    u.set_code(0, 0, 128);
    u.set_code(0, 1, 130);
    u.set_code(0, 2, 0);
    auto d = u.dequantize();
    CHECK(d(0, 0) == 0.0f);  // implicit zero point 128
    CHECK(d(0, 1) == 1.0f);
    CHECK(d(0, 2) == -64.0f);

    quantized_tensor<pow2<4>, symmetric, per_tensor, 1> p({4});
    p.scales()[0] = 2.0f;
    p.set_code(0, 0, 0x7);        // m = 7 = K -> α
    p.set_code(0, 1, 0x8 | 0x5);  // negative, m = 5 -> -α/4
    p.set_code(0, 2, 0x1);        // m = 1 -> α·2^-6
    p.set_code(0, 3, 0x8);        // negative zero code -> 0
    auto pd = p.dequantize();
    CHECK(pd(0) == 2.0f);
    CHECK(pd(1) == -0.5f);
    CHECK(pd(2) == 2.0f / 64);
    CHECK(pd(3) == 0.0f);
    CHECK(p.bytes() == 2 + 4);
}
