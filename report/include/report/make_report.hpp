#pragma once
/// \file make_report.hpp
/// The whole of `lipschitz report` as one function: read the model, bound every layer and the
/// whole network, search for a lower bound. The command line and the Python module
/// (`lipschitz.network_bound`) both call it, so they answer the same for the same inputs.
#include <report/lower_bound.hpp>
#include <report/report.hpp>

#include <lipschitz/npy.hpp>
#include <lipschitz/tight_bound.hpp>

#include <optional>
#include <stdexcept>
#include <string>

namespace lipschitz::report {

/// An option that is wrong whatever the model (the command line's exit code 2).
class OptionError : public std::invalid_argument {
 public:
  using std::invalid_argument::invalid_argument;
};

/// What make_report() does; the defaults are the command line's.
struct ReportOptions {
  std::optional<Shape> input_shape;  ///< --input-shape; unset: from the model
  /// Input samples (N, *input shape) for the lower bound and `domain = "data"`: --data's .npy,
  /// or an array a caller holds. Unset: none.
  std::optional<NpyArray> data;
  std::string data_name;       ///< how the report names them (--data's path)
  double tolerance = 1e-6;     ///< relative width of each layer's σ₁ interval, in (0, 1)
  bool double_precision = true;  ///< layer norms in double (false: --float)
  BoundMethod method = BoundMethod::best;  ///< --bound
  double bound_seconds = 60;   ///< --bound-seconds, finite and ≥ 0
  std::string domain;          ///< "", "data" or "box:LO,HI" (--domain)
  bool lower_bound = true;     ///< false: --no-lower-bound
  LowerBoundOptions lower{64, 256, 8, 40, 20, 32, 0, 60};  ///< --samples, --ascent-steps, --seed, …
  int threads = 0;             ///< 0: all cores
};

/// Checks the options that do not depend on the model; throws OptionError naming the option.
void validate(const ReportOptions& options);

/// The report of the model file at `path` (TorchScript, ONNX or a checkpoint). Throws
/// OptionError, ImportError (the file), ResourceError (a layer too large), or
/// std::invalid_argument (data that does not fit the model).
ModelReport make_report(const std::string& path, const ReportOptions& options);

}  // namespace lipschitz::report
