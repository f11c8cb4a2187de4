// Compressed-model files: every representation round-trips exactly through a valid
// safetensors file, typed loads check the scheme, and hostile descriptions are rejected.
#include <catch2/catch.hpp>

#include <random>
#include <string>

#include <compress/io.hpp>

using namespace compress;
using Catch::Matchers::Contains;

namespace {

template <class Q>
Q random_quantized(const typename Q::shape_type& shape, unsigned seed) {
    using F = typename Q::format;
    std::mt19937 rng(seed);
    Q q(shape);
    for (std::size_t r = 0; r < q.rows(); ++r) {
        for (std::size_t c = 0; c < q.cols(); ++c) {
            int v;
            if constexpr (F::family == format_family::binary) v = (rng() & 1) ? 1 : -1;
            else if constexpr (F::family == format_family::ternary) v = static_cast<int>(rng() % 3) - 1;
            else if constexpr (F::family == format_family::integer) v = F::qmin + static_cast<int>(rng() % (F::qmax - F::qmin + 1));
            else if constexpr (F::family == format_family::pow2) v = static_cast<int>(rng() % (1u << F::bits));
            else v = static_cast<int>(rng() % (F::bits == 8 ? 0x7Fu : 0x7BFFu));  // finite, positive floats
            q.set_code(r, c, v);
        }
    }
    for (std::size_t i = 0; i < q.num_scales(); ++i) {
        const float s = 0.001f * static_cast<float>(1 + rng() % 1000);
        if constexpr (std::is_same_v<typename Q::scale_format, float>) q.scales()[i] = s;
        else q.scales()[i] = detail::float_to_fp16(s);
        if constexpr (Q::has_zero_points) {
            q.zero_points()[i] = static_cast<typename Q::zero_point_type>(F::qmin + static_cast<int>(rng() % (F::qmax - F::qmin + 1)));
        }
    }
    return q;
}

template <class Q>
void check_round_trip(const typename Q::shape_type& shape, unsigned seed) {
    const Q q = random_quantized<Q>(shape, seed);
    io::compressed_model m;
    m.add("w", q);
    const auto bytes = io::to_compressed_bytes(m);
    const auto plain = io::read_safetensors(bytes);  // a valid safetensors file
    CHECK(plain.contains("w.codes"));
    CHECK(plain.contains("w.scales"));
    CHECK(plain.contains("w.zero_points") == Q::has_zero_points);
    const auto f = io::read_compressed(bytes);
    CHECK_FALSE(f.plain());
    const auto& e = f.entry("w");
    CHECK(e.representation == "quantized");
    CHECK(e.shape == io::shape_type(shape.begin(), shape.end()));
    const Q back = f.get<Q>("w");
    CHECK(back == q);
    CHECK((back.dequantize() == q.dequantize()));
    CHECK(back.bytes() == q.bytes());
}

// Re-saves a file with its description text transformed.
std::vector<std::uint8_t> retag(const std::vector<std::uint8_t>& bytes, const std::string& from, const std::string& to) {
    const auto f = io::read_safetensors(bytes);
    auto md = f.metadata();
    std::string& d = md.at("compress");
    const auto at = d.find(from);
    REQUIRE(at != std::string::npos);
    d.replace(at, from.size(), to);
    std::vector<io::tensor_view> views;
    for (const auto& t : f.tensors()) views.push_back(f[t.name]);
    return io::to_safetensors_bytes(views, md);
}

// Re-saves a file with one part tensor replaced.
std::vector<std::uint8_t> replace_part(const std::vector<std::uint8_t>& bytes, const std::string& name, const io::tensor& t) {
    const auto f = io::read_safetensors(bytes);
    std::vector<io::tensor_view> views;
    for (const auto& i : f.tensors()) views.push_back(i.name == name ? t.view(name) : f[i.name]);
    return io::to_safetensors_bytes(views, f.metadata());
}

void rejects(const std::vector<std::uint8_t>& bytes, const std::string& message) {
    INFO(message);
    CHECK_THROWS_AS(io::read_compressed(bytes, "m.safetensors"), format_error);
    CHECK_THROWS_WITH(io::read_compressed(bytes, "m.safetensors"), Contains(message) && Contains("m.safetensors"));
}
}  // namespace

TEST_CASE("compressed: quantized tensors of every format round-trip exactly", "[io][compressed]") {
    check_round_trip<quantized_tensor<int8, symmetric, per_channel<0>, 2>>({5, 7}, 1);
    check_round_trip<quantized_tensor<int8, affine, per_tensor, 2>>({3, 4}, 2);
    check_round_trip<quantized_tensor<uint8, affine, per_channel<1>, 2>>({4, 6}, 3);
    check_round_trip<quantized_tensor<uint8, symmetric, per_tensor, 1>>({9}, 4);
    check_round_trip<quantized_tensor<int4, symmetric, per_group<32>, 2>>({3, 70}, 5);
    check_round_trip<quantized_tensor<int4, symmetric, per_group<32>, 2, fp16>>({4, 64}, 6);
    check_round_trip<quantized_tensor<uint4, affine, per_group<8>, 2>>({2, 13}, 7);
    check_round_trip<quantized_tensor<int2, symmetric, per_channel<0>, 2>>({3, 9}, 8);
    check_round_trip<quantized_tensor<binary, symmetric, per_channel<0>, 2>>({3, 130}, 9);
    check_round_trip<quantized_tensor<ternary, symmetric, per_channel<0>, 2>>({2, 65}, 10);
    check_round_trip<quantized_tensor<pow2<3>, symmetric, per_tensor, 2>>({2, 5}, 11);
    check_round_trip<quantized_tensor<fp8_e4m3, symmetric, per_channel<0>, 2>>({3, 4}, 12);
    check_round_trip<quantized_tensor<fp16, symmetric, per_tensor, 2>>({2, 3}, 13);
    check_round_trip<quantized_tensor<int8, symmetric, per_channel<0>, 4>>({4, 2, 3, 3}, 14);  // conv weight
}

TEST_CASE("compressed: dense and masked tensors round-trip, plain files open as dense models", "[io][compressed]") {
    xt::xtensor<float, 2> w = {{1.0f, 0.0f, -2.0f}, {0.0f, 0.0f, 3.0f}};
    io::masked_tensor<float, 2> mt{w, mask<2>::from_flags(xt::xtensor<int, 2>{{1, 0, 1}, {0, 0, 1}})};
    xt::xtensor<double, 1> b = {0.5, -0.25};
    xt::xtensor<std::int32_t, 1> steps = {7};
    io::compressed_model m;
    m.add("fc.weight", mt);
    m.add("fc.bias", b);
    m.add("steps", steps);
    CHECK_THROWS_AS(m.add("fc.bias", b), value_error);
    const auto f = io::read_compressed(io::to_compressed_bytes(m, {{"epoch", "3"}}));
    CHECK(f.user_metadata() == io::metadata_map{{"epoch", "3"}});
    CHECK(f.entries().size() == 3);
    const auto back = f.get<io::masked_tensor<float, 2>>("fc.weight");
    CHECK((back.values == w));
    CHECK(back.keep == mt.keep);
    CHECK(f.entry("fc.weight").attribute("sparsity") == std::to_string(0.5));
    CHECK((f.get<xt::xtensor<double, 1>>("fc.bias") == b));
    CHECK(f.get<xt::xtensor<std::int32_t, 1>>("steps")(0) == 7);
    CHECK(f.entry("fc.bias").original_dtype == io::dtype::f64);

    const auto plain = io::read_compressed(io::to_safetensors_bytes({{"a", w}, {"b", b}}));
    CHECK(plain.plain());
    CHECK(plain.entries().size() == 2);
    CHECK(plain.entry("a").representation == "dense");
    CHECK((plain.get<xt::xtensor<float, 2>>("a") == w));
}

TEST_CASE("compressed: typed loads check representation, scheme and rank", "[io][compressed][reject]") {
    using Q8 = quantized_tensor<int8, symmetric, per_channel<0>, 2>;
    io::compressed_model m;
    m.add("q", random_quantized<Q8>({3, 4}, 1));
    m.add("d", xt::xtensor<float, 2>{{1.0f}});
    const auto f = io::read_compressed(io::to_compressed_bytes(m), "m.safetensors");
    using Q4 = quantized_tensor<int4, symmetric, per_group<32>, 2>;
    CHECK_THROWS_AS(f.get<Q4>("q"), format_error);
    CHECK_THROWS_WITH(f.get<Q4>("q"), Contains("tensor 'q': stored as quantized") && Contains("format=int8") &&
                                          Contains("asked for quantized") && Contains("format=int4"));
    CHECK_THROWS_AS((f.get<quantized_tensor<int8, symmetric, per_channel<1>, 2>>("q")), format_error);
    CHECK_THROWS_AS((f.get<quantized_tensor<int8, affine, per_channel<0>, 2>>("q")), format_error);
    CHECK_THROWS_AS((f.get<quantized_tensor<int8, symmetric, per_channel<0>, 2, fp16>>("q")), format_error);
    CHECK_THROWS_AS((f.get<quantized_tensor<int8, symmetric, per_channel<0>, 3>>("q")), format_error);
    CHECK_THROWS_WITH((f.get<quantized_tensor<int8, symmetric, per_channel<0>, 3>>("q")), Contains("asked for rank 3"));
    CHECK_THROWS_AS((f.get<xt::xtensor<float, 2>>("q")), format_error);
    CHECK_THROWS_AS(f.get<Q8>("d"), format_error);
    CHECK_THROWS_WITH(f.get<Q8>("d"), Contains("stored as dense"));
    CHECK_THROWS_AS((f.get<io::masked_tensor<float, 2>>("d")), format_error);
    CHECK_THROWS_AS(f.get<Q8>("missing"), format_error);
    CHECK_THROWS_WITH(f.get<Q8>("missing"), Contains("has no tensor named 'missing'"));
}

TEST_CASE("compressed: hostile descriptions and parts are rejected with format_error", "[io][compressed][reject]") {
    using Q = quantized_tensor<int4, affine, per_group<4>, 2>;
    const Q q = random_quantized<Q>({2, 8}, 3);
    io::compressed_model m;
    m.add("q", q);
    io::masked_tensor<float, 1> mt{xt::xtensor<float, 1>{1.0f, 0.0f, 2.0f}, mask<1>::from_flags(xt::xtensor<int, 1>{1, 0, 1})};
    m.add("m", mt);
    const auto good = io::to_compressed_bytes(m);
    REQUIRE(io::read_compressed(good).get<Q>("q") == q);

    SECTION("the document") {
        rejects(retag(good, "{\"format\"", "[{\"format\""), "invalid JSON");
        rejects(retag(good, "\"compress.model\"", "\"other\""), "\"format\" must be \"compress.model\"");
        rejects(retag(good, "\"version\":1", "\"version\":2"), "version 2 is newer than this reader (version 1)");
        rejects(retag(good, "\"version\":1", "\"version\":0"), "\"version\" must be a positive integer");
        rejects(retag(good, "\"version\":1", "\"version\":\"1\""), "\"version\" must be a positive integer");
        rejects(retag(good, "\"version\":1", "\"version\":1,\"x\":0"), "unknown field 'x'");
        rejects(retag(good, "\"tensors\":{", "\"tensors\":[],\"t\":{"), "\"tensors\" must be an object");
    }
    SECTION("entries") {
        rejects(retag(good, "\"representation\":\"quantized\"", "\"representation\":\"magic\""), "unknown representation 'magic'");
        rejects(retag(good, "\"representation\":\"quantized\"", "\"representation\":7"), "\"representation\" must be a string");
        rejects(retag(good, "\"shape\":[2,8]", "\"shape\":[2,-8]"), "\"shape\" must be an array");
        rejects(retag(good, "\"shape\":[2,8]", "\"shape\":[4294967296,4294967296]"), "overflows");
        rejects(retag(good, "\"dtype\":\"F32\",\"parts\":{\"codes\"", "\"dtype\":\"F33\",\"parts\":{\"codes\""), "\"dtype\" must be a safetensors dtype name");
        rejects(retag(good, "\"codes\":\"q.codes\",", ""), "quantized needs a part 'codes'");
        rejects(retag(good, "\"codes\":\"q.codes\"", "\"codes\":\"q.nothing\""), "names 'q.nothing', which the file does not hold");
        rejects(retag(good, "\"codes\":\"q.codes\"", "\"codes\":\"m.mask\""), "is also a part of tensor");
        rejects(retag(good, "\"codes\":\"q.codes\"", "\"codes\":\"q.codes\",\"extra\":\"q.codes\""), "is also a part");
        rejects(retag(good, "\"parts\":{\"mask\":\"m.mask\",", "\"parts\":{\"mask\":\"m.mask\",\"bits\":\"q.codes\","), "unknown part 'bits' for masked");
        rejects(retag(good, "\"attributes\":{\"format\"", "\"attributes\":{\"n\":1,\"format\""), "attribute 'n' must be a string");
        rejects(retag(good, "\"mask\":\"m.mask\",", ""), "masked needs a part 'mask'");
        rejects(retag(good, "\"representation\":\"masked\"", "\"representation\":\"masked\",\"x\":1"), "unknown field 'x'");
    }
    SECTION("unreferenced tensors") {
        const auto f = io::read_safetensors(good);
        std::vector<io::tensor_view> views;
        for (const auto& t : f.tensors()) views.push_back(f[t.name]);
        const io::tensor extra(xt::xtensor<float, 1>{1.0f});
        views.push_back(extra.view("stowaway"));
        rejects(io::to_safetensors_bytes(views, f.metadata()), "file tensor 'stowaway' is not part of any described tensor");
    }
    SECTION("parts inconsistent with the description (found on typed load)") {
        auto load_q = [](const std::vector<std::uint8_t>& b) { return io::read_compressed(b, "m.safetensors").get<Q>("q"); };
        auto load_m = [](const std::vector<std::uint8_t>& b) {
            return io::read_compressed(b, "m.safetensors").get<io::masked_tensor<float, 1>>("m");
        };
        // codes of the wrong shape or dtype
        const auto wrong_shape = replace_part(good, "q.codes", io::tensor(io::dtype::u8, {2, 5}, std::vector<std::uint8_t>(10)));
        CHECK_THROWS_AS(load_q(wrong_shape), format_error);
        CHECK_THROWS_WITH(load_q(wrong_shape), Contains("part 'codes' ('q.codes') has shape [2, 5], expected [2, 4]"));
        const auto wrong_type = replace_part(good, "q.codes", io::tensor(io::dtype::i8, {2, 4}, std::vector<std::uint8_t>(8)));
        CHECK_THROWS_WITH(load_q(wrong_type), Contains("part 'codes' ('q.codes') is I8, expected U8"));
        // negative scale, zero point out of range for uint4
        xt::xtensor<float, 2> neg = {{1.0f, -1.0f}, {1.0f, 1.0f}};
        const auto bad_scale = replace_part(good, "q.scales", io::tensor(neg));
        CHECK_THROWS_AS(load_q(bad_scale), format_error);
        CHECK_THROWS_WITH(load_q(bad_scale), Contains("tensor 'q'") && Contains("must be finite and >= 0"));
        const auto bad_zp = replace_part(good, "q.zero_points", io::tensor(xt::xtensor<std::int8_t, 2>{{0, 0}, {9, 0}}));
        CHECK_THROWS_WITH(load_q(bad_zp), Contains("zero point 2 is 9, outside [-8, 7]"));
        // a mask with bits past its last flag, a pruned value that is not zero
        const auto bad_mask = replace_part(good, "m.mask", io::tensor(xt::xtensor<std::uint64_t, 1>{0xFFu}));
        CHECK_THROWS_WITH(load_m(bad_mask), Contains("tensor 'm'") && Contains("bits set past its last flag"));
        const auto bad_values = replace_part(good, "m", io::tensor(xt::xtensor<float, 1>{1.0f, 5.0f, 2.0f}));
        CHECK_THROWS_WITH(load_m(bad_values), Contains("value at (1) is pruned by the mask but not zero"));
    }
}
