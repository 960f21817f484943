// import_torchscript on any bytes (a TorchScript archive from someone else): LibTorch's archive
// reader, then our graph walk; a network or an ImportError naming the file.

#include "model_fuzz.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  lipschitz::fuzz::fuzz_model(data, size, "model.pt", lipschitz::report::import_torchscript);
  return 0;
}
