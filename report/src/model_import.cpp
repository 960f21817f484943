#include <report/model_import.hpp>

#include <cerrno>
#include <cstring>
#include <fstream>

namespace lipschitz::report {

ImportedModel import_model(const std::string& path, const std::optional<Shape>& input_shape) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw ImportError(path + ": cannot read: " + std::strerror(errno));
  char magic[4] = {0, 0, 0, 0};
  in.read(magic, 4);
  if (in.gcount() == 0) throw ImportError(path + ": empty file, not a model");
  // TorchScript files and this project's checkpoints are both zip archives written by
  // PyTorch; ONNX files are protobuf.
  const bool zip = in.gcount() == 4 && std::memcmp(magic, "PK\x03\x04", 4) == 0;
  if (!zip) return import_onnx(path, input_shape);
  try {
    return import_checkpoint(path, input_shape);
  } catch (const ImportError& e) {
    // Not one of ours (or a broken one of ours): a TorchScript module, whose loader says best
    // what is wrong with a zip that is neither.
    if (std::string(e.what()).find("not a lipschitz training checkpoint") == std::string::npos)
      throw;
  }
  return import_torchscript(path, input_shape);
}

}  // namespace lipschitz::report
