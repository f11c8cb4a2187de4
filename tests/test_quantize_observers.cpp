// Observers: accumulation over batches, freezing, percentile / MSE search / KL calibration
// against independently computed expectations, histogram growth.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

#include <compress/quantize.hpp>

using namespace compress;

namespace {
xt::xtensor<float, 2> gaussian(std::size_t r, std::size_t c, unsigned seed, float sigma = 1.0f, float mean = 0.0f) {
    xt::xtensor<float, 2> t = xt::xtensor<float, 2>::from_shape({r, c});
    std::mt19937 rng(seed);
    std::normal_distribution<float> nd(mean, sigma);
    for (auto& v : t) v = nd(rng);
    return t;
}
template <class F, class M, class G, class O>
double qmse(const xt::xtensor<float, 2>& w, quantizer<F, M, G, O> q) {
    const auto d = q.quantize(w).dequantize();
    double s = 0.0;
    for (std::size_t i = 0; i < w.size(); ++i) s += (d.data()[i] - w.data()[i]) * (d.data()[i] - w.data()[i]);
    return s / static_cast<double>(w.size());
}
}  // namespace

TEST_CASE("minmax accumulates over batches and can be frozen", "[quantize][observers]") {
    minmax obs;
    xt::xtensor<float, 2> a = {{0.5f, -1.0f}, {2.0f, 0.0f}};
    xt::xtensor<float, 1> b = {-3.0f, 1.0f};
    xt::xtensor<float, 1> c = {100.0f};
    obs.observe(a);
    obs.observe(b);
    CHECK(obs.batches() == 2);
    const auto r = obs.range<int8>();
    CHECK(r.valid);
    CHECK(r.lo == -3.0f);
    CHECK(r.hi == 2.0f);
    const auto p = obs.calculate_qparams<int8, symmetric>();
    CHECK(p.scale == 3.0f / 127.5f);
    CHECK(p.zero_point == 0);
    const auto pa = obs.calculate_qparams<uint8, affine>();
    CHECK(pa.scale == 5.0f / 255.0f);
    CHECK(pa.zero_point == static_cast<int>(-std::nearbyint(-3.0f / (5.0f / 255.0f))));  // 153
    obs.freeze();
    obs.observe(c);
    CHECK(obs.range<int8>().hi == 2.0f);
    obs.unfreeze();
    obs.observe(c);
    CHECK(obs.range<int8>().hi == 100.0f);
    minmax fresh;
    CHECK_FALSE(fresh.range<int8>().valid);
    CHECK(fresh.calculate_qparams<int8, affine>().scale == 1.0f);
}

TEST_CASE("moving_average_minmax: first batch sets, later ones move by the constant", "[quantize][observers]") {
    moving_average_minmax obs(0.5f);
    obs.observe(xt::xtensor<float, 1>{-1.0f, 1.0f});
    obs.observe(xt::xtensor<float, 1>{-3.0f, 5.0f});
    obs.observe(xt::xtensor<float, 1>{0.0f, 1.0f});
    // min: -1 -> -1 + 0.5(-3 + 1) = -2 -> -2 + 0.5(0 + 2) = -1;  max: 1 -> 3 -> 2
    CHECK(obs.range<int8>().lo == -1.0f);
    CHECK(obs.range<int8>().hi == 2.0f);
}

TEST_CASE("per-channel calibration inside a quantizer: one range per channel over all batches", "[quantize][observers]") {
    quantizer<int8, affine, per_channel<1>> act;
    const auto x1 = gaussian(5, 3, 1);
    const auto x2 = gaussian(7, 3, 2, 3.0f);
    act.observe(x1);
    act.observe(x2);
    const auto params = act.calibrated_params();
    REQUIRE(params.size() == 3);
    for (std::size_t c = 0; c < 3; ++c) {
        float lo = 0.0f, hi = 0.0f;  // ranges always include 0
        for (std::size_t r = 0; r < 5; ++r) lo = std::min(lo, x1(r, c)), hi = std::max(hi, x1(r, c));
        for (std::size_t r = 0; r < 7; ++r) lo = std::min(lo, x2(r, c)), hi = std::max(hi, x2(r, c));
        CHECK(params[c].scale == (hi - lo) / 255.0f);
    }
    act.freeze();
    act.observe(gaussian(4, 3, 3, 50.0f));
    CHECK(act.calibrated_params()[0].scale == params[0].scale);
    // fake_quantize of a frozen quantizer does not observe either
    act.fake_quantize(gaussian(4, 3, 4, 50.0f));
    CHECK(act.calibrated_params()[2].scale == params[2].scale);
}

TEST_CASE("percentile: exact on one block, histogram within a bin when streaming", "[quantize][observers]") {
    xt::xtensor<float, 1> v = xt::xtensor<float, 1>::from_shape({1000});
    for (std::size_t i = 0; i < 1000; ++i) v(i) = (i % 2 ? -1.0f : 1.0f) * static_cast<float>(i + 1);
    const percentile p99(99.0);
    // |x| = 1..1000: the 0.99 quantile with linear interpolation is 1 + 0.99·999 = 990.01
    const auto r = p99.one_shot<int8, symmetric, float>(v.data(), v.size());
    CHECK(r.hi == Approx(990.01f));
    CHECK(r.lo == -r.hi);
    // affine: 1st and 99th percentile of the signed values
    std::vector<float> s(v.begin(), v.end());
    std::sort(s.begin(), s.end());
    const auto ra = p99.one_shot<int8, affine, float>(v.data(), v.size());
    CHECK(ra.lo == Approx(s[9] + 0.99f * (s[10] - s[9])));
    CHECK(ra.hi == Approx(s[989] + 0.01f * (s[990] - s[989])));
    // streaming over two batches: within one histogram bin of the exact value
    percentile stream(99.0);
    xt::xtensor<float, 1> first = xt::xtensor<float, 1>::from_shape({500});
    xt::xtensor<float, 1> second = xt::xtensor<float, 1>::from_shape({500});
    std::copy(v.begin(), v.begin() + 500, first.begin());
    std::copy(v.begin() + 500, v.end(), second.begin());
    stream.observe(first);
    stream.observe(second);
    const double bin = 1024.0 / 2048.0;  // 1000 -> grows from 500 to 1000 (one doubling of 499/500)
    CHECK(std::fabs(stream.range<int8>().hi - 990.01) <= 2 * bin);
    // the quantizer clips at the percentile: values beyond it saturate
    xt::xtensor<float, 2> w = xt::xtensor<float, 2>::from_shape({1, 1000});
    std::copy(v.begin(), v.end(), w.begin());
    const auto q = quantizer<int8, symmetric, per_tensor, percentile>{percentile(99.0)}.quantize(w);
    CHECK(q.scale(0) == Approx(990.01f / 127.5f));
}

TEST_CASE("mse_search never does worse than min/max and clips outliers", "[quantize][observers]") {
    auto w = gaussian(8, 256, 7);
    w(3, 3) = 30.0f;  // an outlier stretches min/max
    w(5, 9) = -25.0f;
    using mm = quantizer<int4, symmetric, per_tensor, minmax>;
    using ms = quantizer<int4, symmetric, per_tensor, mse_search>;
    const double e_mm = qmse(w, mm{});
    const double e_ms = qmse(w, ms{});
    CHECK(e_ms < 0.6 * e_mm);  // the outliers' own clipping error limits how far it can shrink
    const auto q = ms{}.quantize(w);
    CHECK(q.scale(0) < 30.0f / 7.5f * 0.9f);
    // an independent scan: no range [-t, t] on a fine grid does better than the search
    for (int i = 1; i <= 400; ++i) {
        const float t = 30.0f * static_cast<float>(i) / 400.0f;
        double e = 0.0;
        const float s = t / 7.5f;
        for (float v : w) {
            const float c = std::min(std::max(std::nearbyint(v / s), -8.0f), 7.0f) * s;
            e += (c - v) * (c - v);
        }
        CHECK(e / static_cast<double>(w.size()) >= e_ms * 0.97);
    }
    // on every block of a per-channel search, too
    using pc_mm = quantizer<int4, affine, per_channel<0>, minmax>;
    using pc_ms = quantizer<int4, affine, per_channel<0>, mse_search>;
    CHECK(qmse(w, pc_ms{}) <= qmse(w, pc_mm{}));
    // the candidate grid includes f = 1, so with steps = 1 and min_ratio = 1 it is min/max
    const auto same = quantizer<int4, symmetric, per_tensor, mse_search>{mse_search(1, 1.0f)}.quantize(w);
    CHECK(same == mm{}.quantize(w));
    // streaming (histogram) search lands near the exact one
    quantizer<int4, symmetric, per_tensor, mse_search> stream;
    stream.observe(w);
    CHECK(stream.calibrated_params()[0].scale == Approx(q.scale(0)).epsilon(0.05));
}

TEST_CASE("histogram_kl: clips heavy tails, keeps a uniform range", "[quantize][observers]") {
    auto w = gaussian(64, 256, 11);
    w(0, 0) = 60.0f;
    const auto q = quantizer<int8, symmetric, per_tensor, histogram_kl>{}.quantize(w);
    const float t = q.scale(0) * 127.5f;
    CHECK(t < 20.0f);  // far below the outlier
    CHECK(t > 2.5f);   // above the bulk of N(0,1)
    xt::xtensor<float, 2> u = xt::xtensor<float, 2>::from_shape({64, 256});
    std::mt19937 rng(3);
    std::uniform_real_distribution<float> ud(-1.0f, 1.0f);
    for (auto& v : u) v = ud(rng);
    const auto qu = quantizer<int8, symmetric, per_tensor, histogram_kl>{}.quantize(u);
    CHECK(qu.scale(0) * 127.5f > 0.9f);
    // one batch streamed equals the one-shot result (same histogram)
    quantizer<int8, symmetric, per_tensor, histogram_kl> stream;
    stream.observe(w);
    CHECK(stream.calibrated_params()[0].scale == q.scale(0));
    // affine: the threshold is intersected with [min, max]
    auto pos = gaussian(16, 64, 12, 1.0f, 3.0f);
    const auto qa = quantizer<uint8, affine, per_tensor, histogram_kl>{}.quantize(pos);
    CHECK(qa.scale(0) > 0.0f);
}

TEST_CASE("range histogram growth merges bins exactly", "[quantize][observers]") {
    std::mt19937 rng(5);
    std::uniform_real_distribution<float> a(-1.0f, 1.0f), b(-3.9f, 3.9f);
    std::vector<float> x1(5000), x2(5000);
    for (auto& v : x1) v = a(rng);
    for (auto& v : x2) v = b(rng);
    x1[0] = 1.0f;  // R starts at 2 (the power of two above 1), doubles twice to 8
    x2[0] = 4.0f;
    detail::range_histogram grown, direct;
    grown.add(x1.data(), x1.size());
    grown.add(x2.data(), x2.size());
    std::vector<float> all(x2);
    all.insert(all.end(), x1.begin(), x1.end());
    direct.add(all.data(), all.size());
    REQUIRE(grown.range() == 8.0);
    REQUIRE(direct.range() == 8.0);
    CHECK(grown.total() == 10000);
    std::size_t diff = 0;
    for (std::size_t i = 0; i < 4096; ++i) diff += grown.count(i) != direct.count(i);
    CHECK(diff == 0);
}

TEST_CASE("histogram_kl threshold: a hand-computed KL(P||Q) example", "[quantize][observers]") {
    // |x| histogram [8, 4, 2, 2] (bin width 0.5), quantized to nq = 2 levels. Candidates i = 2, 3, 4 bins:
    //  i = 2: P = [8, 4+2+2] / 16 = [1/2, 1/2]; Q from the unclipped bins [8 | 4] / 12 = [2/3, 1/3]
    //         KL = 1/2 ln(3/4) + 1/2 ln(3/2) = 1/2 ln(9/8) = 0.0589
    //  i = 3: P = [8, 4, 4] / 16; Q: levels [8 | 4, 2] -> [8, 3, 3] / 14
    //         KL = 1/2 ln(7/8) + 1/2 ln(7/6) = 1/2 ln(49/48) = 0.0103
    //  i = 4: P = [8, 4, 2, 2] / 16; Q: levels [8, 4 | 2, 2] -> [6, 6, 2, 2] / 16
    //         KL = 1/2 ln(4/3) + 1/4 ln(2/3) = 0.0425
    // The minimum is i = 3: threshold 3 · 0.5 = 1.5.
    CHECK(detail::kl_threshold({8.0, 4.0, 2.0, 2.0}, 0.5, 2) == 1.5);
    // without a tail the whole range is kept (i = 4: Q = P exactly, KL = 0)
    CHECK(detail::kl_threshold({8.0, 8.0, 2.0, 2.0}, 0.5, 2) == 2.0);
    // as many levels as bins: nothing to clip
    CHECK(detail::kl_threshold({1.0, 0.0, 5.0}, 1.0, 3) == 3.0);
    // the observer uses 2048 bins over [0, R) and (qmax - qmin + 1)/2 levels: the threshold of a
    // quantizer equals kl_threshold of its folded histogram
    std::mt19937 rng(21);
    std::student_t_distribution<float> td(3.0f);  // heavy tails
    xt::xtensor<float, 2> x = xt::xtensor<float, 2>::from_shape({32, 256});
    for (auto& v : x) v = td(rng);
    detail::range_histogram h;
    h.add(x.data(), x.size());
    const double t8 = detail::kl_threshold(h.folded(), h.bin_width(), 128);
    const double t4 = detail::kl_threshold(h.folded(), h.bin_width(), 8);
    quantizer<int8, symmetric, per_tensor, histogram_kl> q8;
    q8.observe(x);
    CHECK(q8.calibrated_params()[0].scale == static_cast<float>(t8) / 127.5f);
    quantizer<int4, symmetric, per_tensor, histogram_kl> q4;
    q4.observe(x);
    CHECK(q4.calibrated_params()[0].scale == static_cast<float>(t4) / 7.5f);
    CHECK(t4 < t8);  // fewer levels: clip harder
}
