// `lipschitz sample RUN_DIR` (the program lipschitz-sample): a PNG of the run's generator — an
// image grid, or for 2-D data a scatter plot over real samples.

#include "command_errors.hpp"

#include <gan/samples.hpp>
#include <gan/threads.hpp>
#include <gan/trainer.hpp>

#include <boost/program_options.hpp>

#include <iostream>
#include <string>

namespace po = boost::program_options;
using namespace lipschitz::gan;

int main(int argc, char** argv) {
  ensure_passive_openmp(argv);
  po::options_description visible(
      "Usage: lipschitz sample RUN_DIR [options]\n\nWrites a PNG of samples from the run's "
      "latest checkpoint");
  visible.add_options()("out,o", po::value<std::string>(), "PNG to write [RUN_DIR/sample.png]")(
      "count,n", po::value<long long>()->default_value(0), "samples [64 images; 1000 points]")(
      "seed", po::value<unsigned long long>()->default_value(1), "latent seed")("help,h",
                                                                                "this text");
  po::options_description all;
  all.add(visible).add_options()("run", po::value<std::string>());
  po::positional_options_description positional;
  positional.add("run", 1);
  po::variables_map vm;
  try {
    po::store(po::command_line_parser(argc, argv).options(all).positional(positional).run(), vm);
    po::notify(vm);
  } catch (const po::error& e) {
    std::cerr << "lipschitz sample: " << e.what() << "\n";
    return 2;
  }
  if (vm.count("help")) {
    std::cout << visible;
    return 0;
  }
  if (!vm.count("run")) {
    std::cerr << "lipschitz sample: missing RUN_DIR\n" << visible;
    return 2;
  }
  const std::string dir = vm["run"].as<std::string>();
  try {
    TrainOptions options = Trainer::checkpoint_options(dir + "/checkpoint.pt");
    options.device = "cpu";
    Trainer trainer(options);
    trainer.load_checkpoint(dir + "/checkpoint.pt");
    long long count = vm["count"].as<long long>();
    if (count < 0) throw std::invalid_argument("--count must be >= 0");
    if (count == 0) count = trainer.data().toy() ? 1000 : 64;
    const std::string out = vm.count("out") ? vm["out"].as<std::string>() : dir + "/sample.png";
    write_samples(trainer, out, count, vm["seed"].as<unsigned long long>());
    std::cout << out << "  (" << count << " samples at step " << trainer.steps_done() << ")\n";
    return 0;
  } catch (...) {
    return lipschitz::tools::command_error_exit("sample");
  }
}
