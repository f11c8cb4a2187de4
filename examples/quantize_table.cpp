// Prints the storage and error of every quantization format on the same N(0,1) tensor, and
// the effect of bias correction on a quantized linear classifier, as markdown tables.
//
//   quantize_table                        # print the tables
//   quantize_table --update docs/quantize.md
//       # replace the text between <!-- BEGIN quantize_table --> and <!-- END quantize_table -->
#include <cmath>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <random>
#include <sstream>
#include <string>

#include <compress/quantize.hpp>

using namespace compress;

namespace {

constexpr std::size_t R = 256, C = 4096;

xt::xtensor<float, 2> normal_tensor() {
    xt::xtensor<float, 2> w = xt::xtensor<float, 2>::from_shape({R, C});
    std::mt19937 rng(1);
    std::normal_distribution<float> nd(0.0f, 1.0f);
    for (auto& v : w) v = nd(rng);
    return w;
}

template <class Q>
void row(std::ostream& os, const std::string& name, const xt::xtensor<float, 2>& w, const Q& qz) {
    const auto q = qz.quantize(w);
    const auto e = error_report(w, q);
    const double bpw = q.bits_per_weight();
    os << "| `" << name << "` | " << std::fixed << std::setprecision(3) << bpw << " | " << std::setprecision(1)
       << 32.0 / bpw << "× | " << std::scientific << std::setprecision(2) << e.total.mse << " | " << std::fixed
       << std::setprecision(1) << e.total.sqnr_db << " | " << std::setprecision(3) << e.total.max_abs << " |\n";
}

void format_table(std::ostream& os) {
    const auto w = normal_tensor();
    os << "Tensor: " << R << "×" << C << " fp32 drawn from N(0, 1) (std::mt19937 seed 1). Bits per weight count\n"
       << "everything stored: packed codes, scales and zero points (`bytes()·8 / size()`).\n\n";
    os << "| scheme | bits / weight | compression vs fp32 | MSE | SQNR (dB) | max abs error |\n";
    os << "|---|---:|---:|---:|---:|---:|\n";
    row(os, "quantizer<fp16>", w, quantizer<fp16>{});
    row(os, "quantizer<bf16>", w, quantizer<bf16>{});
    row(os, "quantizer<fp8_e4m3, symmetric, per_channel<0>>", w, quantizer<fp8_e4m3, symmetric, per_channel<0>>{});
    row(os, "quantizer<fp8_e5m2, symmetric, per_channel<0>>", w, quantizer<fp8_e5m2, symmetric, per_channel<0>>{});
    row(os, "quantizer<int8, symmetric, per_tensor>", w, quantizer<int8, symmetric, per_tensor>{});
    row(os, "quantizer<int8, symmetric, per_channel<0>>", w, quantizer<int8, symmetric, per_channel<0>>{});
    row(os, "quantizer<uint8, affine, per_channel<0>>", w, quantizer<uint8, affine, per_channel<0>>{});
    row(os, "quantizer<int8, symmetric, per_tensor, histogram_kl>", w, quantizer<int8, symmetric, per_tensor, histogram_kl>{});
    row(os, "quantizer<int8, symmetric, per_tensor, percentile>", w, quantizer<int8, symmetric, per_tensor, percentile>{});
    row(os, "quantizer<int4, symmetric, per_channel<0>>", w, quantizer<int4, symmetric, per_channel<0>>{});
    row(os, "quantizer<int4, symmetric, per_channel<0>, mse_search>", w, quantizer<int4, symmetric, per_channel<0>, mse_search>{});
    row(os, "quantizer<int4, symmetric, per_group<32>, minmax, nearest_even, fp16>", w,
        quantizer<int4, symmetric, per_group<32>, minmax, nearest_even, fp16>{});
    row(os, "quantizer<int4, affine, per_group<32>, minmax, nearest_even, fp16>", w,
        quantizer<int4, affine, per_group<32>, minmax, nearest_even, fp16>{});
    row(os, "quantizer<uint4, affine, per_group<128>>", w, quantizer<uint4, affine, per_group<128>>{});
    row(os, "quantizer<pow2<4>, symmetric, per_channel<0>>", w, quantizer<pow2<4>, symmetric, per_channel<0>>{});
    row(os, "quantizer<pow2<3>, symmetric, per_channel<0>>", w, quantizer<pow2<3>, symmetric, per_channel<0>>{});
    row(os, "quantizer<int2, affine, per_group<16>, minmax, nearest_even, fp16>", w,
        quantizer<int2, affine, per_group<16>, minmax, nearest_even, fp16>{});
    row(os, "quantizer<int2, symmetric, per_channel<0>, mse_search>", w, quantizer<int2, symmetric, per_channel<0>, mse_search>{});
    row(os, "quantizer<ternary, symmetric, per_channel<0>>", w, quantizer<ternary, symmetric, per_channel<0>>{});
    row(os, "quantizer<binary, symmetric, per_channel<0>>", w, quantizer<binary, symmetric, per_channel<0>>{});
}

/// A random linear classifier y = W·x + b (10 classes, 512 inputs) on ReLU features with a
/// nonzero mean; quantize W, then correct the bias from 1024 calibration inputs; measure on
/// 8192 held-out inputs the agreement of the argmax with the fp32 layer and the output error.
template <class Q>
void bias_row(std::ostream& os, const std::string& name) {
    const std::size_t out = 10, in = 512;
    std::mt19937 rng(2);
    std::normal_distribution<float> nd(0.0f, 1.0f);
    xt::xtensor<float, 2> w = xt::xtensor<float, 2>::from_shape({out, in});
    for (auto& v : w) v = nd(rng) / std::sqrt(static_cast<float>(in));
    xt::xtensor<float, 1> b = xt::zeros<float>({out});
    auto features = [&](std::size_t n) {
        xt::xtensor<float, 2> x = xt::xtensor<float, 2>::from_shape({n, in});
        for (auto& v : x) v = std::max(0.0f, nd(rng) + 0.5f);
        return x;
    };
    const auto calib = features(1024), test = features(8192);
    const auto q = Q{}.quantize(w);
    const auto wq = q.dequantize();
    const auto bc = bias_correction(w, q, calib, b);
    double bias_before = 0.0, bias_after = 0.0, mse_before = 0.0, mse_after = 0.0;
    std::size_t agree_before = 0, agree_after = 0;
    std::vector<double> mean_before(out, 0.0), mean_after(out, 0.0);
    for (std::size_t n = 0; n < test.shape()[0]; ++n) {
        std::size_t a_ref = 0, a_q = 0, a_c = 0;
        double b_ref = -1e300, b_q = -1e300, b_c = -1e300;
        for (std::size_t o = 0; o < out; ++o) {
            double y = b(o), yq = b(o);
            for (std::size_t i = 0; i < in; ++i) {
                y += static_cast<double>(w(o, i)) * test(n, i);
                yq += static_cast<double>(wq(o, i)) * test(n, i);
            }
            const double yc = yq - b(o) + bc(o);
            mean_before[o] += y - yq;
            mean_after[o] += y - yc;
            mse_before += (y - yq) * (y - yq);
            mse_after += (y - yc) * (y - yc);
            if (y > b_ref) b_ref = y, a_ref = o;
            if (yq > b_q) b_q = yq, a_q = o;
            if (yc > b_c) b_c = yc, a_c = o;
        }
        agree_before += a_ref == a_q;
        agree_after += a_ref == a_c;
    }
    const double N = static_cast<double>(test.shape()[0]);
    for (std::size_t o = 0; o < out; ++o) {
        bias_before += std::fabs(mean_before[o] / N) / out;
        bias_after += std::fabs(mean_after[o] / N) / out;
    }
    os << "| `" << name << "` | " << std::fixed << std::setprecision(4) << bias_before << " → " << bias_after << " | "
       << std::scientific << std::setprecision(2) << mse_before / (N * out) << " → " << mse_after / (N * out) << " | "
       << std::fixed << std::setprecision(1)
       << 100.0 * agree_before / N << "% → " << 100.0 * agree_after / N << "% |\n";
}

void bias_table(std::ostream& os) {
    os << "\nBias correction (`bias_correction(w, q, calib, b)`): a random linear classifier\n"
       << "y = W·x + b, W [10, 512] ~ N(0, 1/512), on ReLU features max(0, N(0.5, 1)); 1024 calibration inputs,\n"
       << "8192 held-out inputs. Columns: mean |E[y − ŷ]| per output, output MSE, and top-1 agreement with the\n"
       << "fp32 layer, before → after correction.\n\n";
    os << "| weights | mean output bias | output MSE | top-1 agreement |\n|---|---:|---:|---:|\n";
    bias_row<quantizer<int8, symmetric, per_tensor>>(os, "int8, symmetric, per_tensor");
    bias_row<quantizer<int4, symmetric, per_tensor>>(os, "int4, symmetric, per_tensor");
    bias_row<quantizer<int2, symmetric, per_tensor>>(os, "int2, symmetric, per_tensor");
    bias_row<quantizer<ternary, symmetric, per_tensor>>(os, "ternary, per_tensor");
    bias_row<quantizer<binary, symmetric, per_tensor>>(os, "binary, per_tensor");
}

}  // namespace

int main(int argc, char** argv) {
    std::ostringstream os;
    format_table(os);
    bias_table(os);
    os << "\nGenerated by `build/examples/quantize_table --update docs/quantize.md` (examples/quantize_table.cpp).\n";
    if (argc == 3 && std::string(argv[1]) == "--update") {
        std::ifstream in(argv[2]);
        if (!in) {
            std::cerr << "cannot read " << argv[2] << "\n";
            return 1;
        }
        std::stringstream buf;
        buf << in.rdbuf();
        std::string text = buf.str();
        const std::string begin = "<!-- BEGIN quantize_table -->", end = "<!-- END quantize_table -->";
        const auto a = text.find(begin), b = text.find(end);
        if (a == std::string::npos || b == std::string::npos || b < a) {
            std::cerr << argv[2] << " has no " << begin << " ... " << end << " block\n";
            return 1;
        }
        text = text.substr(0, a + begin.size()) + "\n" + os.str() + text.substr(b);
        std::ofstream outf(argv[2]);
        outf << text;
        return outf ? 0 : 1;
    }
    std::cout << os.str();
    return 0;
}
