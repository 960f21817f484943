// A `lipschitz train` checkpoint of any bytes, read as `lipschitz report` and `train --resume`
// read it: the critic as a network (import_checkpoint) and the run's options
// (Trainer::checkpoint_options, then validated); each an error naming the file otherwise.

#include "model_fuzz.hpp"

#include <gan/train_options.hpp>
#include <gan/trainer.hpp>

using namespace lipschitz::fuzz;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  fuzz_model(data, size, "checkpoint.pt", lipschitz::report::import_checkpoint);
  const std::string path = scratch().dir() + "/checkpoint.pt";
  expect_clean(
      [&] { lipschitz::gan::validate(lipschitz::gan::Trainer::checkpoint_options(path)); });
  return 0;
}
