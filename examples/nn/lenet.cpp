// Trains LeNet-300-100 (784-300-100-10, ReLU) or a LeNet-5-style CNN on Fashion-MNIST with
// SGD (lr 0.05, momentum 0.9, batch 128), printing loss, accuracy and the time of every epoch.
// The same recipe in PyTorch is examples/nn/lenet_pytorch.py; benchmarks/run_nn.sh runs both.
//
//   lenet [lenet300|lenet5] [epochs] [seed]        (threads: OMP_NUM_THREADS with COMPRESS_USE_OPENMP)
#include <compress/nn.hpp>
#include <compress/nn/fashion_mnist.hpp>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#if defined(COMPRESS_USE_OPENMP) && COMPRESS_USE_OPENMP
#include <omp.h>
#endif

namespace nn = compress::nn;

// LeNet-300-100 as in Han et al. / LeCun et al.: the model the compression examples reuse.
nn::sequential lenet300(nn::generator& gen) {
    nn::sequential m;
    m.add("fc1", nn::linear(784, 300, gen));
    m.add("relu1", nn::relu());
    m.add("fc2", nn::linear(300, 100, gen));
    m.add("relu2", nn::relu());
    m.add("fc3", nn::linear(100, 10, gen));
    return m;
}

// LeNet-5-style: conv(1->6, 5x5, pad 2) relu pool2, conv(6->16, 5x5) relu pool2, 400-120-84-10.
nn::sequential lenet5(nn::generator& gen) {
    nn::sequential m;
    m.add("conv1", nn::conv2d(1, 6, 5, gen, {1, 2, true}));
    m.add("relu1", nn::relu());
    m.add("pool1", nn::max_pool2d(2));
    m.add("conv2", nn::conv2d(6, 16, 5, gen));
    m.add("relu2", nn::relu());
    m.add("pool2", nn::max_pool2d(2));
    m.add("flatten", nn::flatten());
    m.add("fc1", nn::linear(400, 120, gen));
    m.add("relu3", nn::relu());
    m.add("fc2", nn::linear(120, 84, gen));
    m.add("relu4", nn::relu());
    m.add("fc3", nn::linear(84, 10, gen));
    return m;
}

int main(int argc, char** argv) {
    const std::string model_name = argc > 1 ? argv[1] : "lenet300";
    const std::size_t epochs = argc > 2 ? std::strtoul(argv[2], nullptr, 10) : 10;
    const std::uint64_t seed = argc > 3 ? std::strtoull(argv[3], nullptr, 10) : 0;
    if (model_name != "lenet300" && model_name != "lenet5") {
        std::fprintf(stderr, "usage: lenet [lenet300|lenet5] [epochs] [seed]\n");
        return 2;
    }
    const bool cnn = model_name == "lenet5";
    int threads = 1;
#if defined(COMPRESS_USE_OPENMP) && COMPRESS_USE_OPENMP
    threads = omp_get_max_threads();
#endif
    try {
        auto train = nn::load_fashion_mnist("train", nn::fashion_mnist_default_dir, !cnn);
        auto test = nn::load_fashion_mnist("test", nn::fashion_mnist_default_dir, !cnn);
        nn::generator gen(seed);
        nn::sequential model = cnn ? lenet5(gen) : lenet300(gen);
        std::printf("%s, %zu parameters, %d thread(s)\n%s\n", model_name.c_str(), model.parameters().numel(), threads,
                    model.describe().c_str());
        nn::sgd opt(model.parameters(), {0.05, 0.9});
        nn::data_loader loader(train.images, train.targets, 128, true, seed);
        std::vector<double> times;
        nn::eval_stats last{};
        for (std::size_t e = 0; e < epochs; ++e) {
            const auto s = nn::train_epoch(model, opt, loader, e);
            last = nn::evaluate(model, test.images, test.targets);
            times.push_back(s.seconds);
            std::printf("epoch %2zu  loss %.4f  train acc %.4f  test loss %.4f  test acc %.4f  %.3f s\n", e + 1, s.loss,
                        s.accuracy, last.loss, last.accuracy, s.seconds);
            std::fflush(stdout);
        }
        std::vector<double> sorted = times;
        std::sort(sorted.begin(), sorted.end());
        const double median = sorted.empty() ? 0.0 : sorted[sorted.size() / 2];
        const double best = sorted.empty() ? 0.0 : sorted.front();
        std::printf("RESULT impl=compress model=%s epochs=%zu seed=%llu threads=%d test_acc=%.4f "
                    "epoch_s_min=%.3f epoch_s_median=%.3f\n",
                    model_name.c_str(), epochs, static_cast<unsigned long long>(seed), threads, last.accuracy, best,
                    median);
    } catch (const compress::error& e) {
        std::fprintf(stderr, "lenet: %s\n", e.what());
        return 1;
    }
    return 0;
}
