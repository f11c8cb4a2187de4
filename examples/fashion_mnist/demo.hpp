#pragma once
// The end-to-end Fashion-MNIST demo (`make demo`): shared types of its translation units.
//
// The demo trains LeNet-300-100 with compress::nn, derives one compressed model per
// technique from the trained dense model, and measures every model the same way: its test
// accuracy and the time of the 10,000 test images computed THROUGH THE KERNEL OF ITS STORED
// REPRESENTATION (compress::linear on csr / quantized weights, ...), never through a dense
// fake-quantized copy. It uses only the library's public headers.

#include <compress/io.hpp>
#include <compress/nn.hpp>
#include <compress/nn/fashion_mnist.hpp>

#include <compress/linear.hpp>
#include <compress/sparse.hpp>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace demo {

namespace nn = compress::nn;
using matrix = xt::xtensor<float, 2>;
using vector = xt::xtensor<float, 1>;

// ---------------------------------------------------------------- options and data

struct options {
    bool quick = false;
    std::size_t train_samples = 0;   ///< 0 = the whole training set
    std::size_t epochs = 10;         ///< dense training
    std::size_t ft_epochs = 2;       ///< each fine-tuning
    std::size_t batch = 128;
    std::size_t infer_batch = 1000;  ///< rows per compress::linear call when timing
    std::size_t timing_reps = 5;     ///< timed passes over the test set (the minimum is kept)
    std::size_t single_reps = 3;     ///< timed passes one image at a time
    std::uint64_t seed = 1;
    std::string data_dir = nn::fashion_mnist_default_dir;
    std::string out_dir = "build/demo-out";
    bool write_docs = true;
    std::string results_md = "docs/results.md";
    std::string plot = "docs/fashion_mnist.svg";
    std::string cli;                 ///< path of the `compress` program ("" = look beside the build)
    std::string only;                ///< run only the rows whose key contains this ("" = all)
};

struct dataset {
    nn::tensor train_x;  ///< [n, 784]
    nn::labels train_y;
    nn::tensor test_x;   ///< [10000, 784]
    nn::labels test_y;
};

// ---------------------------------------------------------------- progress

/// One line rewritten in place on a terminal (a bar with a label and a status text); on a
/// pipe only the final line is printed.
class progress {
public:
    progress(std::string label, std::size_t total);
    void update(std::size_t done, const std::string& status = {});
    void finish(const std::string& status);

private:
    std::string label_;
    std::size_t total_;
    bool tty_;
    double last_ = -1.0;
};

// ---------------------------------------------------------------- models for training

/// An MLP with PyTorch names fc1, relu1, fc2, relu2, ..., fcN (no ReLU after the last).
nn::sequential make_mlp(const std::vector<std::size_t>& widths, std::uint64_t seed);
/// The widths of an MLP built by make_mlp.
std::vector<std::size_t> widths_of(nn::sequential& model);
/// Number of linear layers.
std::size_t num_layers(nn::sequential& model);
nn::linear& fc(nn::sequential& model, std::size_t i);  ///< i = 1 .. num_layers

/// Training settings of one run.
struct train_plan {
    std::string label;          ///< shown in the progress line
    std::size_t epochs = 1;
    double lr = 1e-3;           ///< Adam, cosine-annealed to lr/20 over the run
    std::uint64_t seed = 1;     ///< shuffling
    nn::loss_fn loss;           ///< empty = softmax cross-entropy
    nn::step_callback after_step;
    bool eval_each_epoch = true;
};

/// Trains with Adam and prints one line per epoch (loss, train/test accuracy, seconds).
/// Returns the wall time.
double train(nn::sequential& model, const dataset& data, const options& opt, const train_plan& plan);

/// Accuracy of the nn model itself (eval mode) on the test set.
double nn_accuracy(nn::sequential& model, const dataset& data);

// ---------------------------------------------------------------- deployed models

/// One layer of a model deployed for inference: y = linear(x, W, b) through the kernel of
/// W's stored representation, then ReLU when `relu`.
struct deployed_layer {
    std::string name;
    std::function<matrix(const matrix&)> run;
    std::size_t bytes = 0;  ///< weight representation + bias as stored
    bool relu = true;
};

struct deployed_model {
    std::vector<deployed_layer> layers;
    matrix forward(const matrix& x) const;
    std::size_t bytes() const;
};

/// A dense fp32 model deployed with compress::linear (the library's GEMM).
deployed_model deploy_dense(nn::sequential& model);
/// The dense model as a compressed-model file (every tensor dense).
compress::io::compressed_model dense_file(nn::sequential& model);

// ---------------------------------------------------------------- rows

/// What a technique produces: the deployed model (or why there is none), its file, notes.
struct outcome {
    std::string key;         ///< short id, file name: "prune_global90"
    std::string method;      ///< "global magnitude 90% + fine-tune"
    std::string kernel;      ///< "csr spmm (compress::linear)"
    std::shared_ptr<deployed_model> model;  ///< null when missing
    std::string missing;     ///< "not yet: <reason>" when model is null
    std::size_t stored_bytes = 0;  ///< 0 = model->bytes()
    std::string storage_note;      ///< how stored_bytes is counted when it is not model->bytes()
    compress::io::compressed_model file;
    bool has_file = false;
    bool reportable = true;  ///< `compress report` can compare the file with the dense one (same tensor names)
    /// false: a row shown for contrast that is EXPECTED to lose most of the accuracy (e.g. a
    /// full-precision model quantized to 1-2 bits without retraining). It is measured and
    /// reported like every other row, marked in the table, and written as `contrast` in
    /// results.tsv; the smoke test asks no accuracy bar of it. Every other row claims a usable model.
    bool usable = true;
    /// Key of a contrast row this row is the trained answer to (e.g. "ptq_binary"): the smoke test
    /// checks that this row's accuracy is clearly above that one's. "" = none.
    std::string improves_on;
    double train_seconds = 0.0;
    std::string note;
};

/// What every technique gets: the data, the options, the trained dense model.
struct context {
    const options& opt;
    const dataset& data;
    const nn::sequential& dense;
    /// A fresh copy of the trained dense model.
    nn::sequential clone_dense() const { return nn::sequential(dense); }
};

using technique = std::function<outcome(const context&)>;

// Registered by the rows_*.cpp translation units, in table order.
std::vector<std::pair<std::string, technique>> pruning_techniques();
std::vector<std::pair<std::string, technique>> quantization_techniques();
std::vector<std::pair<std::string, technique>> other_techniques();

// ---------------------------------------------------------------- report

/// One measured row of the table.
struct measured {
    outcome o;
    double accuracy = 0.0;
    std::size_t bytes = 0;
    double ratio = 0.0;
    double ms = 0.0;        ///< 10,000 test images in batches, best of timing_reps
    double speedup = 0.0;   ///< dense ms / ms
    double ms1 = 0.0;       ///< 10,000 test images one at a time (batch 1), best of single_reps
    double speedup1 = 0.0;
    std::string file_path;
    std::size_t file_bytes = 0;
};

/// Test accuracy through the deployed kernels, the best time of `opt.timing_reps` passes over
/// the test set in batches of `opt.infer_batch`, and of `opt.single_reps` passes one image at a time.
void measure(const deployed_model& m, const dataset& data, const options& opt, measured& out);

/// The Markdown table.
std::string table_markdown(const std::vector<measured>& rows);
/// Accuracy vs compression ratio as an SVG document.
std::string plot_svg(const std::vector<measured>& rows, const std::string& title);
/// Replaces section `section` of the Markdown file (between <!-- BEGIN s --> and <!-- END s -->),
/// appending it when absent: the logic of scripts/update_results.py.
void update_results_section(const std::string& path, const std::string& section, const std::string& body);
/// Writes a text file atomically.
void write_text(const std::string& path, const std::string& text);

/// Seconds since an arbitrary epoch (steady clock).
double now_seconds();

}  // namespace demo
