// Distils LeNet-300-100 (the teacher) into a 784-32-10 student on Fashion-MNIST and compares
// it with the same student trained alone, in two settings:
//
//   all labels : both students see the 60000 labelled images;
//   few labels : only `labeled` images (default 1000, a seeded random subset) keep their label.
//                The student alone trains on those; the distilled student also gets the
//                teacher's soft targets on the other images (no labels), and a third student
//                gets the teacher's hard argmax labels on them (hard-target distillation).
//
// The teacher is trained on all labels (it stands for a model trained elsewhere).
//
//   distill_lenet [labeled=1000] [seed=0] [teacher_epochs=20] [student_epochs=20] [T=4] [alpha=0.5]
#include "../common/families_steps.hpp"

#include <compress/nn/fashion_mnist.hpp>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>

namespace nn = compress::nn;
namespace ex = compress_examples;

int main(int argc, char** argv) {
    const std::size_t labeled = argc > 1 ? std::strtoul(argv[1], nullptr, 10) : 1000;
    const std::uint64_t seed = argc > 2 ? std::strtoull(argv[2], nullptr, 10) : 0;
    const std::size_t teacher_epochs = argc > 3 ? std::strtoul(argv[3], nullptr, 10) : 20;
    const std::size_t student_epochs = argc > 4 ? std::strtoul(argv[4], nullptr, 10) : 20;
    const double T = argc > 5 ? std::strtod(argv[5], nullptr) : 4.0;
    const double alpha = argc > 6 ? std::strtod(argv[6], nullptr) : 0.5;
    try {
        const auto t0 = std::chrono::steady_clock::now();
        auto tr = nn::load_fashion_mnist("train");
        auto te = nn::load_fashion_mnist("test");
        ex::dataset train{tr.images, tr.targets};
        ex::dataset test{te.images, te.targets};
        const std::vector<std::size_t> student_widths = {784, 32, 10};

        // Teacher: LeNet-300-100, all labels.
        nn::sequential teacher = ex::make_mlp({784, 300, 100, 10}, seed);
        ex::train_options to;
        to.epochs = teacher_epochs;
        to.seed = seed;
        ex::train(teacher, train, {}, to, ex::supervised_loss(train));
        const double acc_teacher = ex::accuracy(teacher, test);
        std::printf("teacher LeNet-300-100: test accuracy %.2f%%\n", 100 * acc_teacher);
        const auto teacher_logits = ex::predict_logits(teacher, train.x);

        ex::train_options so;
        so.epochs = student_epochs;
        so.seed = seed + 1;
        const compress::kd_options kd{T, alpha};

        // --- all labels
        nn::sequential alone_all = ex::make_mlp(student_widths, seed + 7);
        ex::train(alone_all, train, {}, so, ex::supervised_loss(train));
        const double acc_alone_all = ex::accuracy(alone_all, test);
        nn::sequential kd_all = ex::make_mlp(student_widths, seed + 7);
        ex::train(kd_all, train, {}, so, ex::distill_loss(train, teacher_logits, kd));
        const double acc_kd_all = ex::accuracy(kd_all, test);
        std::printf("all labels: student alone %.2f%%, distilled %.2f%%\n", 100 * acc_alone_all, 100 * acc_kd_all);

        // --- few labels: a seeded subset keeps its labels.
        std::vector<std::size_t> perm(train.size());
        for (std::size_t i = 0; i < perm.size(); ++i) perm[i] = i;
        nn::generator g(seed + 99);
        for (std::size_t i = perm.size(); i > 1; --i) std::swap(perm[i - 1], perm[g.below(i)]);
        std::vector<std::size_t> subset(perm.begin(), perm.begin() + static_cast<std::ptrdiff_t>(labeled));
        ex::dataset few{train.x, nn::labels(train.y)};
        std::vector<char> is_labeled(train.size(), 0);
        for (auto i : subset) is_labeled[i] = 1;
        for (std::size_t i = 0; i < few.size(); ++i)
            if (!is_labeled[i]) few.y(i) = -1;

        // Student alone: the labelled subset only, as many optimizer steps as the students
        // trained on all images (so it is not short of training), weight decay against overfitting.
        ex::train_options fo = so;
        fo.epochs = std::max<std::size_t>(1, so.epochs * train.size() / std::max<std::size_t>(labeled, 1));
        fo.epochs = std::min<std::size_t>(fo.epochs, 400);
        fo.weight_decay = 5e-4;
        nn::sequential alone_few = ex::make_mlp(student_widths, seed + 7);
        ex::train(alone_few, train, subset, fo, ex::supervised_loss(train));
        const double acc_alone_few = ex::accuracy(alone_few, test);

        // Distilled: labels on the subset, the teacher's soft targets everywhere.
        nn::sequential kd_few = ex::make_mlp(student_widths, seed + 7);
        ex::train(kd_few, few, {}, so, ex::distill_loss(few, teacher_logits, kd));
        const double acc_kd_few = ex::accuracy(kd_few, test);

        // Hard-target distillation: the teacher's argmax as the label of the unlabelled images.
        ex::dataset pseudo{train.x, nn::labels(few.y)};
        const auto hard = compress::teacher_labels(teacher_logits);
        for (std::size_t i = 0; i < pseudo.size(); ++i)
            if (pseudo.y(i) < 0) pseudo.y(i) = hard(i);
        nn::sequential hard_few = ex::make_mlp(student_widths, seed + 7);
        ex::train(hard_few, pseudo, {}, so, ex::supervised_loss(pseudo));
        const double acc_hard_few = ex::accuracy(hard_few, test);
        const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();

        std::printf("%zu labels: student alone %.2f%%, distilled (soft) %.2f%%, hard targets %.2f%%\n", labeled,
                    100 * acc_alone_few, 100 * acc_kd_few, 100 * acc_hard_few);
        std::printf("\nMARKDOWN\n");
        std::printf("Teacher LeNet-300-100 (784-300-100-10), trained on all 60000 labels for %zu epochs: "
                    "**%.2f%%** test accuracy. Student 784-32-10, %zu epochs over the training images "
                    "(SGD momentum 0.9, lr 0.05 cosine, batch 128), KD with T = %g, alpha = %g. Seed %llu, %.0f s in total.\n\n",
                    teacher_epochs, 100 * acc_teacher, student_epochs, T, alpha, static_cast<unsigned long long>(seed), secs);
        std::printf("| setting | student alone | distilled (soft targets) | hard targets (teacher argmax) |\n|---|---|---|---|\n");
        std::printf("| all 60000 labels | %.2f%% | %.2f%% (%+.2f) | – |\n", 100 * acc_alone_all, 100 * acc_kd_all,
                    100 * (acc_kd_all - acc_alone_all));
        std::printf("| %zu labels + %zu unlabelled images | %.2f%% (labelled subset only, %zu epochs, wd 5e-4) | %.2f%% (%+.2f) | %.2f%% (%+.2f) |\n",
                    labeled, train.size() - labeled, 100 * acc_alone_few, fo.epochs, 100 * acc_kd_few,
                    100 * (acc_kd_few - acc_alone_few), 100 * acc_hard_few, 100 * (acc_hard_few - acc_alone_few));
    } catch (const std::exception& e) {
        std::fprintf(stderr, "distill_lenet: %s\n", e.what());
        return 1;
    }
    return 0;
}
