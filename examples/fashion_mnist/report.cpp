// Measuring deployed models, the Markdown table, the SVG plot, the results section.
#include "demo.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <sstream>

namespace demo {

void measure(const deployed_model& m, const dataset& data, const options& opt, measured& out) {
    const std::size_t n = data.test_y.size();
    const std::size_t in = data.test_x.shape()[1];
    // The test set cut into batches, and into single images, once (the copies are not timed).
    auto cut = [&](std::size_t batch) {
        std::vector<matrix> batches;
        for (std::size_t lo = 0; lo < n; lo += batch) {
            const std::size_t hi = std::min(n, lo + batch);
            matrix x = matrix::from_shape({hi - lo, in});
            std::copy(data.test_x.data() + lo * in, data.test_x.data() + hi * in, x.data());
            batches.push_back(std::move(x));
        }
        return batches;
    };
    const std::vector<matrix> batches = cut(opt.infer_batch);
    // Accuracy from a full pass through the deployed kernels.
    std::size_t correct = 0, row = 0;
    for (const auto& x : batches) {
        const matrix y = m.forward(x);
        const std::size_t classes = y.shape()[1];
        for (std::size_t i = 0; i < y.shape()[0]; ++i, ++row) {
            const float* z = y.data() + i * classes;
            std::size_t arg = 0;
            for (std::size_t j = 1; j < classes; ++j) {
                if (z[j] > z[arg]) arg = j;
            }
            correct += static_cast<std::int64_t>(arg) == data.test_y(row);
        }
    }
    out.accuracy = static_cast<double>(correct) / static_cast<double>(n);
    // Timing: the same passes, best of `reps` (the pass above was the warm-up).
    float sink = 0.0f;
    auto best_of = [&](const std::vector<matrix>& xs, std::size_t reps) {
        double best = 1e300;
        for (std::size_t r = 0; r < std::max<std::size_t>(reps, 1); ++r) {
            const double t0 = now_seconds();
            for (const auto& x : xs) sink += m.forward(x).data()[0];
            best = std::min(best, now_seconds() - t0);
        }
        return best * 1e3;
    };
    out.ms = best_of(batches, opt.timing_reps);
    if (opt.single_reps > 0) {
        const std::vector<matrix> singles = cut(1);
        out.ms1 = best_of(singles, opt.single_reps);
    }
    if (sink == 12345.678f) std::printf(" ");  // keeps the passes from being optimised away
}

namespace {

std::string fmt(const char* f, double v) {
    char b[64];
    std::snprintf(b, sizeof b, f, v);
    return b;
}

std::string bytes_str(std::size_t b) {
    if (b >= 1024 * 1024) return fmt("%.2f MiB", static_cast<double>(b) / (1024.0 * 1024.0));
    if (b >= 1024) return fmt("%.1f KiB", static_cast<double>(b) / 1024.0);
    return std::to_string(b) + " B";
}

std::string xml_escape(const std::string& s) {
    std::string o;
    for (char c : s) {
        switch (c) {
            case '&': o += "&amp;"; break;
            case '<': o += "&lt;"; break;
            case '>': o += "&gt;"; break;
            case '"': o += "&quot;"; break;
            default: o += c;
        }
    }
    return o;
}

}  // namespace

std::string table_markdown(const std::vector<measured>& rows) {
    const measured* dense = rows.empty() ? nullptr : &rows.front();
    std::ostringstream s;
    const bool singles = dense && dense->ms1 > 0.0;
    s << "| # | method | inference kernel | test acc | Δ acc | stored bytes | ratio | 10k images, batched (ms) | "
         "speed vs dense"
      << (singles ? " | 10k images one by one (ms) | speed vs dense" : "") << " |\n";
    s << "|---:|---|---|---:|---:|---:|---:|---:|---:" << (singles ? "|---:|---:" : "") << "|\n";
    int i = 0;
    for (const auto& r : rows) {
        s << "| " << i++ << " | " << r.o.method << (r.o.usable ? "" : " †") << " | ";
        if (!r.o.model) {
            s << r.o.missing << " | – | – | – | – | – | –" << (singles ? " | – | –" : "") << " |\n";
            continue;
        }
        s << r.o.kernel << " | " << fmt("%.2f%%", 100.0 * r.accuracy) << " | "
          << (dense && &r != dense ? fmt("%+.2f", 100.0 * (r.accuracy - dense->accuracy)) : std::string("–")) << " | "
          << bytes_str(r.bytes) << " | " << fmt("%.1f×", r.ratio) << " | " << fmt("%.1f", r.ms) << " | "
          << fmt("%.2f×", r.speedup);
        if (singles) s << " | " << fmt("%.1f", r.ms1) << " | " << fmt("%.2f×", r.speedup1);
        s << " |\n";
    }
    bool contrast = false;
    for (const auto& r : rows) contrast = contrast || !r.o.usable;
    if (contrast) {
        s << "\n† shown for contrast: a full-precision model quantized without retraining, expected to lose much of "
             "its accuracy; the fine-tuned row of the same kernel is the usable model.\n";
    }
    return s.str();
}

std::string plot_svg(const std::vector<measured>& rows, const std::string& title) {
    const double W = 760, H = 480, left = 70, right = 230, top = 40, bottom = 60;
    const double pw = W - left - right, ph = H - top - bottom;
    double rmax = 2.0, amin = 1.0, amax = 0.0;
    for (const auto& r : rows) {
        if (!r.o.model) continue;
        rmax = std::max(rmax, r.ratio);
        amin = std::min(amin, r.accuracy);
        amax = std::max(amax, r.accuracy);
    }
    // x: log2 of the ratio from 1× to the next power of two; y: accuracy, padded.
    const double xmax = std::ceil(std::log2(rmax * 1.05));
    double ylo = std::floor((amin - 0.01) * 50.0) / 50.0, yhi = std::ceil((amax + 0.005) * 50.0) / 50.0;
    if (ylo < 0.0) ylo = 0.0;
    if (yhi > 1.0) yhi = 1.0;
    if (yhi - ylo < 0.04) ylo = yhi - 0.04;
    auto X = [&](double ratio) { return left + pw * std::log2(std::max(ratio, 1.0)) / xmax; };
    auto Y = [&](double acc) { return top + ph * (1.0 - (acc - ylo) / (yhi - ylo)); };
    static const char* colors[] = {"#000000", "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b",
                                   "#e377c2", "#7f7f7f", "#bcbd22", "#17becf", "#393b79", "#ad494a", "#637939"};
    std::ostringstream s;
    s << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << W << "\" height=\"" << H
      << "\" font-family=\"sans-serif\" font-size=\"12\">\n";
    s << "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n";
    s << "<text x=\"" << left + pw / 2 << "\" y=\"22\" text-anchor=\"middle\" font-size=\"15\">" << xml_escape(title)
      << "</text>\n";
    // grid and axes
    for (int k = 0; k <= static_cast<int>(xmax); ++k) {
        const double x = left + pw * k / xmax;
        s << "<line x1=\"" << x << "\" y1=\"" << top << "\" x2=\"" << x << "\" y2=\"" << top + ph
          << "\" stroke=\"#e0e0e0\"/>\n";
        s << "<text x=\"" << x << "\" y=\"" << top + ph + 18 << "\" text-anchor=\"middle\">" << (1 << k)
          << "×</text>\n";
    }
    const int ysteps = static_cast<int>(std::lround((yhi - ylo) / 0.01));
    const int ystride = ysteps > 12 ? (ysteps > 40 ? 10 : 2) : 1;
    for (int k = 0; k <= ysteps; k += ystride) {
        const double a = ylo + 0.01 * k;
        const double y = Y(a);
        s << "<line x1=\"" << left << "\" y1=\"" << y << "\" x2=\"" << left + pw << "\" y2=\"" << y
          << "\" stroke=\"#e0e0e0\"/>\n";
        s << "<text x=\"" << left - 6 << "\" y=\"" << y + 4 << "\" text-anchor=\"end\">" << fmt("%.0f%%", 100 * a)
          << "</text>\n";
    }
    s << "<rect x=\"" << left << "\" y=\"" << top << "\" width=\"" << pw << "\" height=\"" << ph
      << "\" fill=\"none\" stroke=\"black\"/>\n";
    s << "<text x=\"" << left + pw / 2 << "\" y=\"" << H - 18
      << "\" text-anchor=\"middle\">compression ratio vs dense fp32 (stored bytes, log scale)</text>\n";
    s << "<text transform=\"translate(18," << top + ph / 2
      << ") rotate(-90)\" text-anchor=\"middle\">test accuracy (10,000 images, through the compressed kernels)</text>\n";
    // points and legend
    int i = 0, legend = 0;
    for (const auto& r : rows) {
        const int idx = i++;
        if (!r.o.model) continue;
        const char* c = colors[idx % (sizeof colors / sizeof colors[0])];
        const double x = X(r.ratio), y = Y(std::max(r.accuracy, ylo));
        s << "<circle cx=\"" << x << "\" cy=\"" << y << "\" r=\"5\" fill=\"" << (r.o.usable ? c : "white")
          << "\" stroke=\"" << c << "\" stroke-width=\"2\"><title>"
          << xml_escape(r.o.method) << ": " << fmt("%.2f%%", 100 * r.accuracy) << ", " << fmt("%.1f×", r.ratio)
          << "</title></circle>\n";
        s << "<text x=\"" << x + 7 << "\" y=\"" << y - 6 << "\" font-size=\"10\">" << idx << "</text>\n";
        const double ly = top + 8 + 16 * legend++;
        s << "<circle cx=\"" << left + pw + 16 << "\" cy=\"" << ly - 4 << "\" r=\"5\" fill=\"" << (r.o.usable ? c : "white")
          << "\" stroke=\"" << c << "\" stroke-width=\"2\"/>\n";
        s << "<text x=\"" << left + pw + 26 << "\" y=\"" << ly << "\" font-size=\"10\">" << idx << " "
          << xml_escape(r.o.method) << (r.o.usable ? "" : " (contrast)") << "</text>\n";
    }
    s << "</svg>\n";
    return s.str();
}

void write_text(const std::string& path, const std::string& text) {
    const std::string tmp = path + ".tmp-demo";
    {
        std::ofstream f(tmp, std::ios::binary | std::ios::trunc);
        if (!f) throw compress::io_error("cannot create '" + tmp + "'");
        f << text;
        f.flush();
        if (!f) throw compress::io_error("cannot write '" + tmp + "'");
    }
    if (std::rename(tmp.c_str(), path.c_str()) != 0) {
        std::remove(tmp.c_str());
        throw compress::io_error("cannot rename '" + tmp + "' to '" + path + "'");
    }
}

void update_results_section(const std::string& path, const std::string& section, const std::string& body) {
    std::string text;
    {
        std::ifstream f(path, std::ios::binary);
        if (f) {
            std::ostringstream ss;
            ss << f.rdbuf();
            text = ss.str();
        } else {
            text = "# Results\n";
        }
    }
    std::string b = body;
    while (!b.empty() && (b.back() == '\n' || b.back() == ' ' || b.back() == '\t' || b.back() == '\r')) b.pop_back();
    const std::string begin = "<!-- BEGIN " + section + " -->", end = "<!-- END " + section + " -->";
    const std::string block = begin + "\n" + b + "\n" + end;
    const auto bpos = text.find(begin);
    const auto epos = bpos == std::string::npos ? std::string::npos : text.find(end, bpos);
    if (bpos != std::string::npos && epos != std::string::npos) {
        text = text.substr(0, bpos) + block + text.substr(epos + end.size());
    } else {
        while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
        text += "\n\n" + block + "\n";
    }
    write_text(path, text);
}

}  // namespace demo
