// The pipeline of `lipschitz report`, shared by the command line and the Python module.

#include <report/make_report.hpp>
#include <report/model_import.hpp>

#include <c10/util/Exception.h>

#include <chrono>
#include <cmath>
#include <sstream>

namespace lipschitz::report {
namespace {

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// The samples as a float32 batch, checked against the model's input shape.
at::Tensor sample_tensor(const NpyArray& array, const std::string& name, const Shape& input_shape) {
  const Shape per_sample(array.shape.begin() + (array.shape.empty() ? 0 : 1), array.shape.end());
  if (array.shape.empty() || per_sample != input_shape)
    throw std::invalid_argument(
        name + ": samples must have shape (N, " + shape_string(input_shape) +
        ") for this model, got (" +
        (array.shape.empty() ? std::string("scalar")
                             : std::to_string(array.shape[0]) + ", " + shape_string(per_sample)) +
        ")");
  for (double v : array.data)
    if (!std::isfinite(v)) throw std::invalid_argument(name + ": samples contain NaN or Inf");
  std::vector<int64_t> shape(array.shape.begin(), array.shape.end());
  return at::tensor(array.data, at::kDouble).reshape(shape).to(at::kFloat);
}

}  // namespace

void validate(const ReportOptions& o) {
  if (!(o.tolerance > 0 && o.tolerance < 1))
    throw OptionError("--tolerance must be in (0, 1), got " + std::to_string(o.tolerance));
  if (!(o.bound_seconds >= 0) || !std::isfinite(o.bound_seconds))
    throw OptionError("--bound-seconds must be a finite number >= 0, got " +
                      std::to_string(o.bound_seconds));
  if (!o.domain.empty() && o.domain != "data" && o.domain.rfind("box:", 0) != 0)
    throw OptionError("--domain must be 'data' or 'box:LO,HI', got '" + o.domain + "'");
  if (o.method == BoundMethod::local && o.domain.empty())
    throw OptionError("--bound local needs --domain (data or box:LO,HI)");
  if (o.lower.random_inputs < 0 || o.lower.ascent_steps < 0 || o.threads < 0 ||
      !(o.lower.time_budget >= 0))
    throw OptionError("--samples, --ascent-steps, --threads and --lower-bound-seconds must be >= 0");
}

ModelReport make_report(const std::string& path, const ReportOptions& options) {
  validate(options);
  const auto start = std::chrono::steady_clock::now();
  ModelReport report;
  report.model = path;
  ImportedModel model = import_model(path, options.input_shape);
  report.format = model.format;
  report.input_shape = model.input_shape;
  report.input_shape_source = model.input_shape_source;
  report.warnings = model.warnings;
  report.import_seconds = seconds_since(start);

  at::Tensor data;
  if (options.data) {
    report.data = options.data_name;
    data = sample_tensor(*options.data, options.data_name, model.input_shape);
  }

  const auto bounds_start = std::chrono::steady_clock::now();
  NetworkBoundOptions layer_options;
  layer_options.conv.tolerance = options.tolerance;
  layer_options.conv.threads = options.threads;
  layer_options.double_precision = options.double_precision;
  report.bound = bound_network(model.network, layer_options);

  TightBoundOptions tight;
  tight.method = options.method;
  tight.seconds = options.bound_seconds;
  tight.threads = options.threads;
  if (options.domain == "data") {
    // The given samples, or those the checkpoint's toy set draws.
    const at::Tensor points = data.defined() ? data : model.training_data;
    if (!points.defined())
      throw std::invalid_argument("--domain data needs --data FILE (the samples whose bounding box is the "
                                  "domain); only a toy run's checkpoint brings its own");
    const at::Tensor flat = points.reshape({points.size(0), -1}).to(at::kDouble).contiguous();
    const Eigen::Map<const Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>>
        rows(flat.data_ptr<double>(), flat.size(0), flat.size(1));
    tight.domain = data_domain(rows, 0.1);
    tight.domain_text = "data (bounding box of " +
                        (data.defined() ? report.data
                                        : "2500 samples of " + model.training_data_name) +
                        ", enlarged by 10 %)";
  } else if (!options.domain.empty()) {
    try {
      tight.domain = parse_box_domain(options.domain, element_count(model.input_shape));
    } catch (const std::invalid_argument& e) {
      throw OptionError(std::string("--domain: ") + e.what());
    }
    tight.domain_text = options.domain;
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

  if (options.lower_bound) {
    try {
      const LowerBoundResult found = empirical_lower_bound(
          {model.forward, model.forward_double}, model.input_shape, data, options.lower);
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
                                  std::to_string(found.points) +
                                  " points; raise --lower-bound-seconds for a tighter lower "
                                  "bound)");
      if (!report.tight.local && report.tight.certified &&
          found.value > report.tight.upper_bound * (1 + 1e-6))
        report.warnings.push_back("the empirical lower bound exceeds the certified upper bound: "
                                  "a defect, please report it with this model");
    } catch (const std::exception& e) {
      std::string what = e.what();
      if (const auto* c10 = dynamic_cast<const c10::Error*>(&e))
        what = c10->what_without_backtrace();
      report.warnings.push_back("no empirical lower bound: " + what.substr(0, what.find('\n')));
    }
  }
  report.network = std::move(model.network);
  report.total_seconds = seconds_since(start);
  return report;
}

}  // namespace lipschitz::report
