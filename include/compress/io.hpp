#pragma once
// Files: NumPy .npy, safetensors, and compressed-model files (safetensors whose metadata
// describes each tensor's compressed representation). Namespace compress::io.
//
//   auto f = compress::io::load_safetensors("model.safetensors");   // validated, mmap'ed when large
//   xt::xtensor<float, 2> w = f.get<float, 2>("fc1.weight");        // F32 / F16 / BF16 → float
//   compress::io::save_safetensors("out.safetensors", {{"fc1.weight", w}}, {{"note", "pruned"}});
//   auto x = compress::io::load_npy<float, 2>("inputs.npy");          // any byte order, C or Fortran
//
// Every reader throws compress::format_error on malformed input and compress::io_error when
// the OS refuses; every writer is atomic (temporary file + rename).

#include "io/compressed.hpp"
#include "io/compressed_sparse.hpp"
#include "io/file.hpp"
#include "io/json.hpp"
#include "io/npy.hpp"
#include "io/safetensors.hpp"
#include "io/tensor.hpp"
