// import_onnx on any bytes (a model downloaded from a hub): protobuf parsing, the graph walk,
// operator translation and shape inference either give a network or an ImportError naming the
// file.

#include "model_fuzz.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  lipschitz::fuzz::fuzz_model(data, size, "model.onnx", lipschitz::report::import_onnx);
  return 0;
}
