// Distillation into a 784-32-10 student, and weight averaging of two fine-tuned copies.
#include "demo.hpp"

#include <compress/distill.hpp>
#include <compress/fuse.hpp>

#include <cstdio>

namespace demo {
namespace {

outcome distill_student(const context& c) {
    outcome o;
    o.method = "distilled student 784-32-10 (KD, T = 4)";
    o.kernel = "fp32 sgemm (small dense)";
    auto teacher = std::make_shared<nn::sequential>(c.clone_dense());
    nn::sequential student = make_mlp({784, 32, 10}, c.opt.seed + 400);
    const double temperature = 4.0, alpha = 0.1;
    train_plan plan;
    plan.label = "distill";
    plan.epochs = c.opt.epochs;
    plan.lr = 2e-3;
    plan.seed = c.opt.seed + 400;
    // Hinton's loss: alpha·CE(labels) + (1 − alpha)·T²·KL(teacher_T || student_T), the teacher
    // run on the same batch in eval mode.
    plan.loss = [teacher, temperature, alpha](const nn::tensor& x, const nn::tensor& logits, const nn::labels& y) {
        const nn::tensor t = teacher->forward(x, false);
        const xt::xtensor<float, 2> s2 = logits, t2 = t;
        const auto r = compress::kd_loss(s2, t2, y, {temperature, alpha});
        nn::loss_result out;
        out.loss = r.loss;
        out.grad = r.grad;
        return out;
    };
    o.train_seconds = train(student, c.data, c.opt, plan);
    o.model = std::make_shared<deployed_model>(deploy_dense(student));
    o.file = dense_file(student);
    o.has_file = true;
    char b[256];
    std::snprintf(b, sizeof b,
                  "Student trained from scratch for %zu epochs on `kd_loss` (T = %.0f, alpha = %.1f) against the dense "
                  "model's logits; %zu parameters instead of %zu.",
                  plan.epochs, temperature, alpha, student.parameters().numel(),
                  const_cast<nn::sequential&>(c.dense).parameters().numel());
    o.note = b;
    return o;
}

outcome weight_averaging(const context& c) {
    outcome o;
    o.method = "weight averaging of two fine-tuned copies";
    o.kernel = "fp32 sgemm";
    const double t0 = now_seconds();
    nn::sequential a = c.clone_dense(), b = c.clone_dense();
    train_plan pa;
    pa.label = "copy A";
    pa.epochs = c.opt.ft_epochs;
    pa.lr = 5e-4;
    pa.seed = c.opt.seed + 500;
    train_plan pb = pa;
    pb.label = "copy B";
    pb.seed = c.opt.seed + 501;
    train(a, c.data, c.opt, pa);
    train(b, c.data, c.opt, pb);
    const double acc_a = nn_accuracy(a, c.data), acc_b = nn_accuracy(b, c.data);
    nn::sequential avg = c.clone_dense();
    const auto pa_list = a.parameters(), pb_list = b.parameters();
    for (const auto& p : avg.parameters()) {
        if (p.rank() == 2) {
            p.value<2>() = compress::average<float, 2>({pa_list[p.name()].value<2>(), pb_list[p.name()].value<2>()});
        } else {
            p.value<1>() = compress::average<float, 1>({pa_list[p.name()].value<1>(), pb_list[p.name()].value<1>()});
        }
    }
    o.train_seconds = now_seconds() - t0;
    std::printf("  copy A %.2f%%, copy B %.2f%%, average %.2f%% (compress::nn)\n", 100 * acc_a, 100 * acc_b,
                100 * nn_accuracy(avg, c.data));
    o.model = std::make_shared<deployed_model>(deploy_dense(avg));
    o.file = dense_file(avg);
    o.has_file = true;
    char n[256];
    std::snprintf(n, sizeof n,
                  "Two copies of the dense model fine-tuned %zu epochs with different shuffles (test acc %.2f%% and "
                  "%.2f%%), then averaged parameter by parameter (`compress::average`, model soup). Same size as "
                  "dense: this row is about accuracy, not compression.",
                  c.opt.ft_epochs, 100 * acc_a, 100 * acc_b);
    o.note = n;
    return o;
}

}  // namespace

std::vector<std::pair<std::string, technique>> other_techniques() {
    return {{"distill_student", distill_student}, {"weight_averaging", weight_averaging}};
}

}  // namespace demo
