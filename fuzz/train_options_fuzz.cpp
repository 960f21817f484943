// The training options as they come from the command line and from a checkpoint: field=value
// lines → options_from_map → apply_defaults → validate. Each step succeeds or throws
// std::invalid_argument naming the field; options that validate survive to_map and back.

#include "fuzz_input.hpp"

#include <gan/train_options.hpp>

#include <map>

using namespace lipschitz::fuzz;
namespace gan = lipschitz::gan;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  Input in(data, size);
  const std::string_view text = in.rest();
  std::map<std::string, std::string> fields;
  std::size_t begin = 0;
  while (begin < text.size()) {
    std::size_t end = text.find('\n', begin);
    if (end == std::string_view::npos) end = text.size();
    const std::string_view line = text.substr(begin, end - begin);
    const std::size_t eq = line.find('=');
    if (eq != std::string_view::npos)
      fields[std::string(line.substr(0, eq))] = std::string(line.substr(eq + 1));
    begin = end + 1;
  }
  expect_clean([&] {
    gan::TrainOptions o = gan::options_from_map(fields);
    gan::apply_defaults(o, fields);
    gan::validate(o);
    const std::map<std::string, std::string> written = gan::to_map(o);
    if (gan::to_map(gan::options_from_map(written)) != written) fail("to_map does not round-trip");
  });
  return 0;
}
