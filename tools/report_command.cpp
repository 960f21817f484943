// `lipschitz report MODEL` (the program lipschitz-report): per-layer spectral norms and bounds
// on the whole network's Lipschitz constant, for TorchScript, ONNX and checkpoint files.

#include <report/make_report.hpp>
#include <report/model_import.hpp>

#include <gan/atomic_file.hpp>
#include <gan/threads.hpp>
#include <lipschitz/npy.hpp>

#include <boost/program_options.hpp>
#include <c10/util/Exception.h>

#include <cmath>
#include <iostream>
#include <string>

namespace po = boost::program_options;
using namespace lipschitz;
using namespace lipschitz::report;


int main(int argc, char** argv) {
  gan::ensure_passive_openmp(argv);
  po::options_description visible(
      "Usage: lipschitz report MODEL [options]\n\nMODEL: a TorchScript file (torch.jit.save), an "
      "ONNX file, or a `lipschitz train` checkpoint.\nPer layer: the exact spectral norm (or a "
      "certified interval) at the layer's real input size, and the\nreshaped-weight value "
      "torch.nn.utils.spectral_norm would report. Whole network: a certified upper\nbound on "
      "the Lipschitz constant (or why none exists) and an empirical lower bound");
  visible.add_options()
      ("input-shape", po::value<std::string>(), "per-sample input shape CxHxW, CxN or F "
                                                "[from the model when it records it]")
      ("data", po::value<std::string>(), ".npy of inputs (N, *input shape) for the lower bound")
      ("json", po::bool_switch(), "one JSON object")
      ("markdown", po::bool_switch(), "a Markdown table")
      ("csv", po::bool_switch(), "CSV, one row per layer and a last row for the network")
      ("output,o", po::value<std::string>(), "write the report to this file (atomically) "
                                             "instead of stdout")
      ("tolerance", po::value<double>()->default_value(1e-6),
       "relative width of each layer's σ₁ interval")
      ("float", po::bool_switch(), "compute the layer norms in float (default: double)")
      ("samples", po::value<int>()->default_value(64), "random inputs for the lower bound")
      ("ascent-steps", po::value<int>()->default_value(40),
       "gradient-ascent steps for the lower bound (0: none)")
      ("lower-bound-seconds", po::value<double>()->default_value(60),
       "time budget of the lower-bound search (0: none)")
      ("no-lower-bound", po::bool_switch(), "skip the empirical lower bound")
      ("bound", po::value<std::string>()->default_value("best"),
       "whole-network bound: product, combettes, eclipse, sdp, regions, local or best (every "
       "method that applies within --bound-seconds; the tightest is the answer)")
      ("bound-seconds", po::value<double>()->default_value(60),
       "time budget of the whole-network methods after the product")
      ("domain", po::value<std::string>(),
       "bound over an input domain: 'data' (the --data samples' bounding box enlarged by 10 %) "
       "or 'box:LO,HI' (every input coordinate in [LO, HI]); the local methods run on it")
      ("seed", po::value<unsigned long long>()->default_value(0), "seed of the random inputs")
      ("threads", po::value<int>()->default_value(0), "threads, 0 = all cores")
      ("help,h", "this text");
  po::options_description all;
  all.add(visible).add_options()("model", po::value<std::string>());
  po::positional_options_description positional;
  positional.add("model", 1);
  po::variables_map vm;
  try {
    po::store(po::command_line_parser(argc, argv).options(all).positional(positional).run(), vm);
    po::notify(vm);
  } catch (const po::error& e) {
    std::cerr << "lipschitz report: " << e.what() << "\n";
    return 2;
  }
  if (vm.count("help")) {
    std::cout << visible;
    return 0;
  }
  if (!vm.count("model")) {
    std::cerr << "lipschitz report: missing MODEL\n" << visible;
    return 2;
  }
  const int formats = vm["json"].as<bool>() + vm["markdown"].as<bool>() + vm["csv"].as<bool>();
  if (formats > 1) {
    std::cerr << "lipschitz report: choose one of --json, --markdown, --csv\n";
    return 2;
  }
  ReportOptions options;
  options.tolerance = vm["tolerance"].as<double>();
  options.double_precision = !vm["float"].as<bool>();
  options.bound_seconds = vm["bound-seconds"].as<double>();
  options.domain = vm.count("domain") ? vm["domain"].as<std::string>() : "";
  options.lower_bound = !vm["no-lower-bound"].as<bool>();
  options.lower.random_inputs = vm["samples"].as<int>();
  options.lower.ascent_steps = vm["ascent-steps"].as<int>();
  options.lower.seed = vm["seed"].as<unsigned long long>();
  options.lower.time_budget = vm["lower-bound-seconds"].as<double>();
  options.threads = vm["threads"].as<int>();
  try {
    options.method = bound_method_from_string(vm["bound"].as<std::string>());
  } catch (const std::invalid_argument& e) {
    std::cerr << "lipschitz report: --bound: " << e.what() << "\n";
    return 2;
  }
  try {
    validate(options);
  } catch (const OptionError& e) {
    std::cerr << "lipschitz report: " << e.what() << "\n";
    return 2;
  }
  if (vm.count("input-shape")) {
    try {
      options.input_shape = parse_shape(vm["input-shape"].as<std::string>());
    } catch (const std::invalid_argument& e) {
      std::cerr << "lipschitz report: --input-shape: " << e.what() << "\n";
      return 2;
    }
  }
  gan::set_compute_threads(options.threads);

  try {
    if (vm.count("data")) {
      options.data_name = vm["data"].as<std::string>();
      options.data = read_npy(options.data_name);
    }
    const ModelReport report = make_report(vm["model"].as<std::string>(), options);
    const std::string text = vm["json"].as<bool>()       ? format_json(report)
                             : vm["markdown"].as<bool>() ? format_markdown(report)
                             : vm["csv"].as<bool>()      ? format_csv(report)
                                                         : format_table(report);
    if (vm.count("output"))
      gan::detail::replace_file_with_text(vm["output"].as<std::string>(), text);
    else
      std::cout << text << std::flush;
  } catch (const OptionError& e) {
    std::cerr << "lipschitz report: " << e.what() << "\n";
    return 2;
  } catch (const ImportError& e) {
    std::cerr << "lipschitz report: " << e.what() << "\n";
    return 1;
  } catch (const ResourceError& e) {
    std::cerr << "lipschitz report: " << e.what() << "\n";
    return 1;
  } catch (const c10::Error& e) {
    const std::string what = e.what_without_backtrace();
    std::cerr << "lipschitz report: " << what.substr(0, what.find('\n')) << "\n";
    return 1;
  } catch (const std::exception& e) {
    std::cerr << "lipschitz report: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
