// `lipschitz report MODEL` (the program lipschitz-report): per-layer spectral norms and bounds
// on the whole network's Lipschitz constant, for TorchScript, ONNX and checkpoint files.

#include <report/lower_bound.hpp>
#include <report/model_import.hpp>
#include <report/report.hpp>

#include <gan/atomic_file.hpp>
#include <gan/threads.hpp>
#include <lipschitz/npy.hpp>

#include <boost/program_options.hpp>
#include <c10/util/Exception.h>

#include <chrono>
#include <cmath>
#include <sstream>
#include <iostream>
#include <string>

namespace po = boost::program_options;
using namespace lipschitz;
using namespace lipschitz::report;

namespace {

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// The --data samples: a .npy of shape (N, *input_shape), float32 or float64.
at::Tensor read_samples(const std::string& path, const Shape& input_shape) {
  const NpyArray array = read_npy(path);
  const Shape per_sample(array.shape.begin() + (array.shape.empty() ? 0 : 1), array.shape.end());
  if (array.shape.empty() || per_sample != input_shape)
    throw std::invalid_argument(path + ": samples must have shape (N, " +
                                shape_string(input_shape) + ") for this model, got (" +
                                (array.shape.empty() ? std::string("scalar") : std::to_string(array.shape[0]) + ", " + shape_string(per_sample)) + ")");
  for (double v : array.data)
    if (!std::isfinite(v)) throw std::invalid_argument(path + ": samples contain NaN or Inf");
  std::vector<int64_t> shape(array.shape.begin(), array.shape.end());
  return at::tensor(array.data, at::kDouble).reshape(shape).to(at::kFloat);
}

}  // namespace

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
  const double tolerance = vm["tolerance"].as<double>();
  const int samples = vm["samples"].as<int>(), ascent = vm["ascent-steps"].as<int>();
  const int threads = vm["threads"].as<int>();
  BoundMethod method = BoundMethod::best;
  try {
    method = bound_method_from_string(vm["bound"].as<std::string>());
  } catch (const std::invalid_argument& e) {
    std::cerr << "lipschitz report: --bound: " << e.what() << "\n";
    return 2;
  }
  const double bound_seconds = vm["bound-seconds"].as<double>();
  if (!(bound_seconds >= 0) || !std::isfinite(bound_seconds)) {
    std::cerr << "lipschitz report: --bound-seconds must be a finite number >= 0, got "
              << bound_seconds << "\n";
    return 2;
  }
  const std::string domain = vm.count("domain") ? vm["domain"].as<std::string>() : "";
  if (vm.count("domain") && domain != "data" && domain.rfind("box:", 0) != 0) {
    std::cerr << "lipschitz report: --domain must be 'data' or 'box:LO,HI', got '" << domain << "'\n";
    return 2;
  }
  if (method == BoundMethod::local && domain.empty()) {
    std::cerr << "lipschitz report: --bound local needs --domain (data or box:LO,HI)\n";
    return 2;
  }
  if (!(tolerance > 0 && tolerance < 1) || samples < 0 || ascent < 0 || threads < 0 ||
      !(vm["lower-bound-seconds"].as<double>() >= 0)) {
    std::cerr << "lipschitz report: --tolerance must be in (0, 1); --samples, --ascent-steps and "
                 "--threads and --lower-bound-seconds must be >= 0\n";
    return 2;
  }
  std::optional<Shape> input_shape;
  if (vm.count("input-shape")) {
    try {
      input_shape = parse_shape(vm["input-shape"].as<std::string>());
    } catch (const std::invalid_argument& e) {
      std::cerr << "lipschitz report: --input-shape: " << e.what() << "\n";
      return 2;
    }
  }
  gan::set_compute_threads(threads);

  const auto start = std::chrono::steady_clock::now();
  ModelReport report;
  report.model = vm["model"].as<std::string>();
  try {
    ImportedModel model = import_model(report.model, input_shape);
    report.format = model.format;
    report.input_shape = model.input_shape;
    report.input_shape_source = model.input_shape_source;
    report.warnings = model.warnings;
    report.import_seconds = seconds_since(start);

    at::Tensor data;
    if (vm.count("data")) {
      report.data = vm["data"].as<std::string>();
      data = read_samples(report.data, model.input_shape);
    }

    const auto bounds_start = std::chrono::steady_clock::now();
    NetworkBoundOptions options;
    options.conv.tolerance = tolerance;
    options.conv.threads = threads;
    options.double_precision = !vm["float"].as<bool>();
    report.bound = bound_network(model.network, options);

    TightBoundOptions tight;
    tight.method = method;
    tight.seconds = bound_seconds;
    tight.threads = threads;
    if (domain == "data") {
      // The --data samples, or those the checkpoint's toy set draws.
      const at::Tensor points = data.defined() ? data : model.training_data;
      if (!points.defined())
        throw std::invalid_argument("--domain data needs --data FILE (the samples whose bounding "
                                    "box is the domain); only a toy run's checkpoint brings its own");
      const at::Tensor flat = points.reshape({points.size(0), -1}).to(at::kDouble).contiguous();
      const Eigen::Map<const Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>>
          rows(flat.data_ptr<double>(), flat.size(0), flat.size(1));
      tight.domain = data_domain(rows, 0.1);
      tight.domain_text = "data (bounding box of " +
                          (data.defined() ? report.data
                                          : "2500 samples of " + model.training_data_name) +
                          ", enlarged by 10 %)";
    } else if (!domain.empty()) {
      try {
        tight.domain = parse_box_domain(domain, element_count(model.input_shape));
      } catch (const std::invalid_argument& e) {
        std::cerr << "lipschitz report: --domain: " << e.what() << "\n";
        return 2;
      }
      tight.domain_text = domain;
    }
    report.tight = tighten_bound(model.network, report.bound, tight);
    report.bound_seconds = seconds_since(bounds_start);
    if (report.tight.lower_bound > 0) {
      report.has_lower_bound = true;
      report.lower_bound = report.tight.lower_bound;
      report.lower_bound_method = report.tight.lower_bound_method;
      std::ostringstream where;
      where.precision(6);
      where << "x = (";
      for (Eigen::Index i = 0; i < std::min<Eigen::Index>(report.tight.witness.size(), 8); ++i)
        where << (i ? ", " : "") << report.tight.witness(i);
      where << (report.tight.witness.size() > 8 ? ", …)" : ")");
      report.lower_bound_where = where.str();
    }

    if (!vm["no-lower-bound"].as<bool>()) {
      LowerBoundOptions lower;
      lower.random_inputs = samples;
      lower.ascent_steps = ascent;
      lower.seed = vm["seed"].as<unsigned long long>();
      lower.time_budget = vm["lower-bound-seconds"].as<double>();
      try {
        const LowerBoundResult found = empirical_lower_bound(
            {model.forward, model.forward_double}, model.input_shape, data, lower);
        report.has_empirical = true;
        report.empirical_lower_bound = found.value;
        report.lower_bound_points = found.points;
        report.lower_bound_seconds = found.seconds;
        // Over a domain the search's points may lie outside it: its value bounds the global
        // constant, not the local answer, which keeps the witnesses found inside the domain.
        if (!report.tight.local && found.value > report.lower_bound) {
          report.has_lower_bound = true;
          report.lower_bound = found.value;
          report.lower_bound_method = found.method;
          report.lower_bound_where = found.where;
        }
        if (found.budget_reached)
          report.warnings.push_back("the lower-bound search stopped at its time budget (" +
                                    std::to_string(found.points) + " points; raise "
                                    "--lower-bound-seconds for a tighter lower bound)");
        if (!report.tight.local && report.tight.certified &&
            found.value > report.tight.upper_bound * (1 + 1e-6))
          report.warnings.push_back("the empirical lower bound exceeds the certified upper "
                                    "bound: a defect, please report it with this model");
      } catch (const std::exception& e) {
        std::string what = e.what();
        if (const auto* c10 = dynamic_cast<const c10::Error*>(&e)) what = c10->what_without_backtrace();
        report.warnings.push_back("no empirical lower bound: " + what.substr(0, what.find('\n')));
      }
    }
    report.network = std::move(model.network);
    report.total_seconds = seconds_since(start);

    const std::string text = vm["json"].as<bool>()       ? format_json(report)
                             : vm["markdown"].as<bool>() ? format_markdown(report)
                             : vm["csv"].as<bool>()      ? format_csv(report)
                                                         : format_table(report);
    if (vm.count("output"))
      gan::detail::replace_file_with_text(vm["output"].as<std::string>(), text);
    else
      std::cout << text << std::flush;
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
