#pragma once
// The training substrate (compress::nn): layers with forward/backward, named parameters,
// softmax cross-entropy, SGD and Adam, learning-rate schedules, masked and quantization-aware
// training, activation recording, training and evaluation loops. See docs/nn.md.
//
// The Fashion-MNIST loader is separate (it needs zlib): #include <compress/nn/fashion_mnist.hpp>
// and link ZLIB::ZLIB.

#include "nn/batch_norm.hpp"
#include "nn/config.hpp"
#include "nn/conv.hpp"
#include "nn/layers.hpp"
#include "nn/loss.hpp"
#include "nn/module.hpp"
#include "nn/optim.hpp"
#include "nn/parameter.hpp"
#include "nn/train.hpp"
