// `lipschitz eval RUN_DIR` (the program lipschitz-eval): sample quality of a run's generator.

#include "command_errors.hpp"

#include <gan/evaluation.hpp>

#include <lipschitz/json_writer.hpp>

#include <boost/program_options.hpp>
#include <gan/threads.hpp>

#include <iomanip>
#include <iostream>
#include <string>
#include <thread>

namespace po = boost::program_options;
using namespace lipschitz::gan;

int main(int argc, char** argv) {
  ensure_passive_openmp(argv);
  po::options_description visible(
      "Usage: lipschitz eval RUN_DIR [options]\n\nToy mixtures: modes covered, high-quality "
      "share (2,500 samples), sliced Wasserstein distance.\nLabelled images (Fashion-MNIST, "
      "IDX, CIFAR-10): classifier-based Frechet distance and Inception-style score");
  visible.add_options()("json", po::bool_switch(), "one JSON object on stdout")(
      "samples", po::value<long long>()->default_value(0),
      "generated samples [2500 toy; 10000 images]")(
      "seed", po::value<unsigned long long>()->default_value(1),
      "seed of the latent and data draws")("cache-dir", po::value<std::string>()->default_value(""),
                                           "classifier cache [~/.cache/lipschitz]")(
      "threads", po::value<int>()->default_value(0), "LibTorch threads, 0 = all cores")(
      "help,h", "this text");
  po::options_description all;
  all.add(visible).add_options()("run", po::value<std::string>());
  po::positional_options_description positional;
  positional.add("run", 1);
  po::variables_map vm;
  try {
    po::store(po::command_line_parser(argc, argv).options(all).positional(positional).run(), vm);
    po::notify(vm);
  } catch (const po::error& e) {
    std::cerr << "lipschitz eval: " << e.what() << "\n";
    return 2;
  }
  if (vm.count("help")) {
    std::cout << visible;
    return 0;
  }
  if (!vm.count("run")) {
    std::cerr << "lipschitz eval: missing RUN_DIR\n" << visible;
    return 2;
  }
  const int threads = vm["threads"].as<int>();
  set_compute_threads(threads);
  EvalOptions options;
  options.samples = vm["samples"].as<long long>();
  options.seed = vm["seed"].as<unsigned long long>();
  options.cache_dir = vm["cache-dir"].as<std::string>();
  try {
    if (options.samples < 0) throw std::invalid_argument("--samples must be >= 0");
    const EvalResult r = evaluate_run(vm["run"].as<std::string>(), options);
    if (vm["json"].as<bool>()) {
      lipschitz::JsonWriter j(std::cout);
      j.begin_object();
      j.key("data").value(r.data);
      j.key("step").value(static_cast<long long>(r.step));
      j.key("samples").value(static_cast<long long>(r.samples));
      if (r.has_modes) {
        j.key("modes_covered").value(static_cast<long long>(r.modes.modes_covered));
        j.key("modes_total").value(static_cast<long long>(r.modes.modes_total));
        j.key("high_quality_fraction").value(r.modes.high_quality_fraction);
        j.key("high_quality_per_mode").int_array(r.modes.high_quality_per_mode);
      }
      if (r.has_sliced_wasserstein) {
        j.key("sliced_wasserstein").value(r.sliced_wasserstein);
        j.key("sliced_wasserstein_data").value(r.sliced_wasserstein_data);
      }
      if (r.has_classifier) {
        j.key("classifier_accuracy").value(r.classifier_accuracy);
        j.key("classifier_path").value(r.classifier_path);
        j.key("frechet_distance").value(r.frechet_distance);
        j.key("frechet_distance_data").value(r.frechet_distance_data);
        j.key("inception_score").value(r.inception_score.mean);
        j.key("inception_score_std").value(r.inception_score.std);
        j.key("inception_score_data").value(r.inception_score_data.mean);
      }
      j.key("seconds").value(r.seconds);
      j.end_object();
      std::cout << "\n";
      return 0;
    }
    std::cout << std::setprecision(4) << r.data << ", step " << r.step << ", " << r.samples
              << " generated samples\n";
    if (r.has_modes)
      std::cout << "  modes covered        " << r.modes.modes_covered << " / "
                << r.modes.modes_total << "\n  high-quality samples " << std::fixed
                << std::setprecision(1) << 100 * r.modes.high_quality_fraction
                << " %  (within 3 sigma of a mode)\n"
                << std::defaultfloat << std::setprecision(4);
    if (r.has_sliced_wasserstein)
      std::cout << "  sliced Wasserstein   " << r.sliced_wasserstein
                << "  (data vs data: " << r.sliced_wasserstein_data << ")\n";
    if (r.has_classifier)
      std::cout << "  classifier FID       " << r.frechet_distance
                << "  (train vs test: " << r.frechet_distance_data << ")\n  Inception-style score "
                << r.inception_score.mean << " +- " << r.inception_score.std
                << "  (test images: " << r.inception_score_data.mean
                << ")\n  feature classifier   test accuracy " << 100 * r.classifier_accuracy
                << " %  (" << r.classifier_path << ")\n";
    return 0;
  } catch (...) {
    return lipschitz::tools::command_error_exit("eval");
  }
}
