// Writes the seed corpus of the compressed-model fuzz target: small compressed files made by
// the library itself (dense, masked, and quantized in several schemes and ranks), each as
// mode 0 ("whole file") and mode 1 ("description\0plain safetensors") inputs.
// Usage: make_seeds OUTDIR

#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include <compress/io.hpp>
#include <compress/prune.hpp>
#include <compress/quantize.hpp>

namespace io = compress::io;
using namespace compress;

static void write(const std::string& path, const std::vector<std::uint8_t>& bytes, std::uint8_t mode) {
    std::ofstream out(path, std::ios::binary);
    out.put(static_cast<char>(mode));
    out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
}

static void emit(const std::string& dir, const std::string& name, const io::compressed_model& m) {
    const auto bytes = io::to_compressed_bytes(m);
    write(dir + "/" + name + ".file", bytes, 0);
    // mode 1: description, NUL, the same tensors without the description
    const io::compressed_file f = io::read_compressed(bytes);
    std::vector<io::tensor_view> views;
    for (const auto& t : f.file().tensors()) views.push_back(f.file().view(t.name));
    const std::string desc = io::describe(m);
    std::vector<std::uint8_t> split(desc.begin(), desc.end());
    split.push_back(0);
    const auto plain = io::to_safetensors_bytes(views);
    split.insert(split.end(), plain.begin(), plain.end());
    write(dir + "/" + name + ".split", split, 1);
}

int main(int argc, char** argv) {
    if (argc != 2) {
        std::fprintf(stderr, "usage: make_seeds OUTDIR\n");
        return 2;
    }
    const std::string dir = argv[1];
    xt::xtensor<float, 2> w = {{0.5f, -1.25f, 2.0f, 0.0f}, {3.0f, -0.75f, 0.125f, -2.5f}};
    xt::xtensor<float, 1> b = {0.1f, -0.2f};
    xt::xtensor<float, 3> w3 = xt::xtensor<float, 3>::from_shape({2, 2, 3});
    for (std::size_t i = 0; i < w3.size(); ++i) w3.data()[i] = static_cast<float>(i) * 0.37f - 2.0f;
    xt::xtensor<float, 2> wide = xt::xtensor<float, 2>::from_shape({2, 64});
    for (std::size_t i = 0; i < wide.size(); ++i) wide.data()[i] = static_cast<float>((i * 7) % 23) - 11.0f;

    {
        io::compressed_model m;
        m.add("fc.weight", w);
        m.add("fc.bias", b);
        emit(dir, "dense", m);
    }
    {
        io::compressed_model m;
        auto v = w;
        auto keep = compress::prune<magnitude>(v, 0.5);
        m.add("fc.weight", io::masked_tensor<float, 2>{v, keep});
        m.add("fc.bias", b);
        emit(dir, "masked", m);
    }
    {
        io::compressed_model m;
        auto v = wide;
        auto keep = compress::prune<magnitude, n_of_m<2, 4>>(v, 0.5);
        m.add("fc.weight", io::masked_tensor<float, 2>{v, keep});
        emit(dir, "masked_2of4", m);
    }
    {
        io::compressed_model m;
        m.add("a", quantizer<int8, symmetric, per_channel<0>>{}.quantize(w));
        m.add("b", quantizer<int8, affine, per_tensor>{}.quantize(w3));
        emit(dir, "int8", m);
    }
    {
        io::compressed_model m;
        m.add("a", quantizer<int4, symmetric, per_group<32>>{}.quantize(wide));
        m.add("b", quantizer<uint4, affine, per_group<16>>{}.quantize(wide));
        emit(dir, "int4", m);
    }
    {
        io::compressed_model m;
        m.add("t", quantizer<ternary, symmetric, per_channel<0>>{}.quantize(w));
        m.add("x", quantizer<binary, symmetric, per_channel<0>>{}.quantize(w));
        m.add("i2", quantizer<int2, symmetric, per_channel<0>>{}.quantize(w));
        emit(dir, "lowbit", m);
    }
    {
        io::compressed_model m;
        m.add("h", quantizer<fp16, symmetric, per_tensor>{}.quantize(w));
        m.add("bf", quantizer<bf16, symmetric, per_tensor>{}.quantize(b));
        m.add("f8", quantizer<fp8_e4m3, symmetric, per_channel<0>>{}.quantize(w3));
        emit(dir, "float", m);
    }
    std::printf("seeds written to %s\n", dir.c_str());
    return 0;
}
