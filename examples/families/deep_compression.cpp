// The Deep Compression pipeline (Han, Mao & Dally 2016) on LeNet-300-100 / Fashion-MNIST:
//
//   1. train the dense model;
//   2. magnitude pruning with retraining (iterative, per-layer sparsities);
//   3. k-means weight sharing of the surviving weights (linear initialisation, 2^bits clusters
//      per layer) and codebook fine-tuning (gradients summed per cluster);
//   4. relative-index sparse storage of the survivors (gap fields + cluster codes);
//   5. Huffman coding of the gaps and of the codes.
//
// The final accuracy is measured on a model decoded from the encoded bytes. Sizes count every
// stored byte: Huffman streams and code-length tables, fp32 codebooks, fp32 biases, headers.
//
//   deep_compression [seed=0] [dense_epochs=20] [sparsity_fc1=0.95] [sparsity_fc2=0.9]
//                    [sparsity_fc3=0.75] [bits=5] [stages=4] [epochs_per_stage=4] [codebook_epochs=4]
#include "../common/families_steps.hpp"

#include <compress/nn/fashion_mnist.hpp>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>

namespace nn = compress::nn;
namespace ex = compress_examples;

int main(int argc, char** argv) {
    auto arg = [&](int i, double def) { return argc > i ? std::strtod(argv[i], nullptr) : def; };
    const auto seed = static_cast<std::uint64_t>(arg(1, 0));
    const auto dense_epochs = static_cast<std::size_t>(arg(2, 20));
    const std::vector<double> sparsity = {arg(3, 0.95), arg(4, 0.9), arg(5, 0.75)};
    const auto bits = static_cast<unsigned>(arg(6, 5));
    const auto stages = static_cast<std::size_t>(arg(7, 4));
    const auto epochs_per_stage = static_cast<std::size_t>(arg(8, 4));
    const auto codebook_epochs = static_cast<std::size_t>(arg(9, 4));
    try {
        const auto t0 = std::chrono::steady_clock::now();
        auto tr = nn::load_fashion_mnist("train");
        auto te = nn::load_fashion_mnist("test");
        ex::dataset train{tr.images, tr.targets};
        ex::dataset test{te.images, te.targets};

        nn::sequential model = ex::make_mlp({784, 300, 100, 10}, seed);
        ex::train_options o;
        o.epochs = dense_epochs;
        o.seed = seed;
        ex::train(model, train, {}, o, ex::supervised_loss(train));
        const double acc_dense = ex::accuracy(model, test);
        const std::size_t dense = ex::dense_bytes(model);
        std::printf("1. dense: %.2f%%, %zu bytes fp32\n", 100 * acc_dense, dense);

        ex::train_options r = o;
        r.epochs = epochs_per_stage;
        r.lr = 0.02;
        ex::prune_and_retrain(model, train, sparsity, stages, r);
        const double acc_pruned = ex::accuracy(model, test);
        auto layers = ex::linear_layers(model);
        std::size_t kept = 0, total = 0;
        for (auto* l : layers) {
            kept += l->weight.keep->kept();
            total += l->weight.value.size();
        }
        std::printf("2. pruned + retrained: %.2f%%, %zu of %zu weights kept (%.2f%%)\n", 100 * acc_pruned, kept, total,
                    100.0 * double(kept) / double(total));

        auto shared = ex::share_weights(model, {bits, bits, bits});
        ex::load_shared(model, shared);
        const double acc_shared = ex::accuracy(model, test);
        ex::train_options c = o;
        c.epochs = codebook_epochs;
        c.lr = 0.01;
        ex::finetune_codebooks(model, train, shared, c, 0.01);
        const double acc_finetuned = ex::accuracy(model, test);
        std::printf("3. weight sharing (%u bits): %.2f%%, after codebook fine-tuning %.2f%%\n", bits, 100 * acc_shared,
                    100 * acc_finetuned);

        const auto enc = ex::deep_encode(model, shared);
        nn::sequential decoded = ex::make_mlp({784, 300, 100, 10}, seed + 1);
        ex::deep_decode(enc, decoded);
        const double acc_final = ex::accuracy(decoded, test);
        std::size_t bytes = 0, fixed = 0;
        for (std::size_t i = 0; i < enc.size(); ++i) {
            bytes += enc[i].bytes();
            fixed += compress::relative_encode(shared[i], enc[i].gap_bits).bytes() + enc[i].bias.size() * 4;
        }
        const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        std::printf("4-5. relative index + Huffman: %zu bytes (%.1fx), decoded model %.2f%% (%+.2f points vs dense)\n",
                    bytes, double(dense) / double(bytes), 100 * acc_final, 100 * (acc_final - acc_dense));

        std::printf("\nMARKDOWN\n");
        std::printf("LeNet-300-100 on Fashion-MNIST, seed %llu, %.0f s in total. Dense: %zu epochs (SGD momentum 0.9, "
                    "lr 0.05 cosine, batch 128). Pruning: %zu stages of magnitude pruning, each followed by %zu epochs of "
                    "retraining (lr 0.02). Weight sharing: %u bits (k = %u) per layer, linear initialisation, %zu epochs "
                    "of codebook fine-tuning. Gap width chosen per layer (smallest Huffman-coded size).\n\n",
                    static_cast<unsigned long long>(seed), secs, dense_epochs, stages, epochs_per_stage, bits, 1u << bits,
                    codebook_epochs);
        std::printf("| stage | test accuracy | size (bytes) | ratio vs dense fp32 |\n|---|---|---|---|\n");
        std::printf("| dense fp32 | %.2f%% | %zu | 1.0x |\n", 100 * acc_dense, dense);
        std::printf("| pruned + retrained (%.2f%% of weights kept) | %.2f%% | – | – |\n", 100.0 * double(kept) / double(total),
                    100 * acc_pruned);
        std::printf("| + weight sharing, before / after codebook fine-tuning | %.2f%% / %.2f%% | – | – |\n",
                    100 * acc_shared, 100 * acc_finetuned);
        std::printf("| + relative-index storage, fixed-width fields (+ fp32 biases) | – | %zu | %.1fx |\n", fixed,
                    double(dense) / double(fixed));
        std::printf("| + Huffman coding: **final, decoded from the bytes** | **%.2f%%** (%+.2f points) | **%zu** | **%.1fx** |\n\n",
                    100 * acc_final, 100 * (acc_final - acc_dense), bytes, double(dense) / double(bytes));
        std::printf("| layer | weights | kept | gap bits | gaps (Huffman) | codes (Huffman) | code entropy | codebook + bias | total |\n"
                    "|---|---|---|---|---|---|---|---|---|\n");
        for (std::size_t i = 0; i < enc.size(); ++i) {
            const auto& e = enc[i];
            std::printf("| fc%zu | %zu | %zu (%.1f%%) | %u | %zu B (%.2f bits/weight) | %zu B (%.2f bits/weight) | %.2f bits | %zu B | %zu B |\n",
                        i + 1, e.shape[0] * e.shape[1], e.kept, 100.0 * double(e.kept) / double(e.shape[0] * e.shape[1]),
                        e.gap_bits, e.gaps.bytes(), double(e.gaps.bit_count) / double(e.kept), e.codes.bytes(),
                        double(e.codes.bit_count) / double(e.kept), compress::index_entropy(shared[i]),
                        (e.codebook.size() + e.bias.size()) * 4, e.bytes());
        }
    } catch (const std::exception& e) {
        std::fprintf(stderr, "deep_compression: %s\n", e.what());
        return 1;
    }
    return 0;
}
