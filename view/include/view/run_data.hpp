#pragma once
/// \file run_data.hpp
/// A `lipschitz train` run directory read into plain data: `config.json`, the monitoring records
/// of `metrics.jsonl`, `summary.json`, the sample pictures and the critic surfaces of 2-D runs
/// (docs/training.md, "The run directory"; docs/monitoring.md for every record key).
///
/// Reading is safe while the trainer is still writing: a last line of `metrics.jsonl` that is not
/// yet complete is dropped (and reported in `MetricsFile::truncated_last_line`).
///
/// Example:
/// \code
///   const lipschitz::view::RunData run = lipschitz::view::read_run("runs/8g");
///   for (const auto& r : run.records) std::cout << r.step << ' ' << r.value("grad_norm_mean");
/// \endcode

#include <cstddef>
#include <limits>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace lipschitz::view {

/// A value a record does not have, or wrote as `null` (non-finite).
inline constexpr double kMissing = std::numeric_limits<double>::quiet_NaN();

/// A run directory, or a file in it, that cannot be read or is malformed. The message names the
/// file (and for `metrics.jsonl` the line) and what was wrong.
class RunFormatError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// One linear map of the critic in one record (monitoring.md, "Per-layer keys"). A value the
/// record wrote as `null` (non-finite) or did not have is NaN.
struct LayerStats {
  std::string name;                        ///< "fc1", "conv2", …
  std::string input_shape;                 ///< "1x28x28" or a feature count; empty if absent
  std::string output_shape;                ///< likewise
  double spectral_norm = kMissing;         ///< the engine's estimate of σ₁ at the input size
  double lower_bound = kMissing;           ///< certified: lower_bound ≤ σ₁
  double upper_bound = kMissing;           ///< certified: σ₁ ≤ upper_bound
  double reshaped_weight_norm = kMissing;  ///< what torch.nn.utils.spectral_norm divides by
  double activation_grad_norm = kMissing;  ///< ‖∂L/∂h_l‖ (Gulrajani et al. 2017, Figure 1b)
  double weight_mean = kMissing;           ///< mean of the weight entries
  double weight_std = kMissing;            ///< their standard deviation
  double weight_min = kMissing;            ///< the smallest entry
  double weight_max = kMissing;            ///< the largest entry
  double weight_at_clip = kMissing;        ///< WGAN: share of weights at ±c
  bool exact = false;                      ///< the interval is within the run's tolerance
};

/// A histogram of one layer's weight entries: `counts.size()` equal-width bins from `min` to
/// `max` (the record key `weight_histograms`).
struct WeightHistogram {
  std::string layer;
  double min = 0;
  double max = 0;
  std::vector<double> counts;
};

/// One monitoring record: one line of `metrics.jsonl`.
struct Record {
  long long step = 0;  ///< generator updates done
  /// Every top-level number of the record by key ("seconds", "critic_loss", "grad_norm_mean",
  /// "critic_upper_bound", …), in file order; `null` is read as NaN.
  std::vector<std::pair<std::string, double>> scalars;
  /// The linear maps, input to output: from `layers`, completed from `layer_spectral_norms` and
  /// `layer_grad_norms` where a record has only those.
  std::vector<LayerStats> layers;
  /// `weight_histograms`, in layer order; empty when the trainer did not write them.
  std::vector<WeightHistogram> weight_histograms;
  /// false when the critic has no certified bound (LayerNorm); `critic_upper_bound` is then NaN
  /// without being an error.
  bool critic_certified = true;
  /// Which bound `critic_upper_bound` is ("product", "combettes", "eclipse"; "" in records
  /// written before there was a choice, which were all the product).
  std::string critic_bound_method;
  /// Keys whose value was `null` although a number belongs there: "critic_loss",
  /// "fc2.spectral_norm", … (not `critic_upper_bound` of an uncertified critic).
  std::vector<std::string> non_finite;

  /// The scalar `key`, NaN when the record does not have it.
  double value(const std::string& key) const;
  /// Whether the record has the scalar `key` (possibly NaN).
  bool has(const std::string& key) const;
  /// The layer called `name`, or nullptr.
  const LayerStats* layer(const std::string& name) const;
};

/// The settings of the run (`config.json`) that the view interprets, plus every entry as text.
struct RunConfig {
  std::string data;              ///< "8gaussians", "fashion-mnist", a directory, …
  std::string data_description;  ///< the trainer's description of the data
  std::string objective;         ///< "gan", "wgan" or "wgan-gp"; empty if absent
  std::string model;             ///< "mlp" or "dcgan"
  std::string critic_norm;       ///< "none" or "layernorm"
  double lambda = 0;             ///< WGAN-GP penalty weight
  double clip = 0;               ///< WGAN clipping bound c
  bool one_sided = false;        ///< WGAN-GP one-sided penalty
  long long steps = 0;           ///< generator updates in total
  long long monitor_every = 0;   ///< steps between records
  long long monitor_batch = 0;   ///< samples per record
  long long depth = 0;  ///< MLP hidden layers (the critic has depth + 1 linear maps); 0 if absent
  long long width = 0;  ///< MLP hidden units, or DCGAN base channels; 0 if absent
  bool fixed_generator = false;  ///< critic trained against data + noise (Figure 1a), no generator
  /// Every key of config.json in file order, its value as compact text ("0.0001", "true").
  std::vector<std::pair<std::string, std::string>> entries;

  /// The 2-D toy sets: 8gaussians, 25gaussians, swissroll.
  bool is_toy() const;
  /// The toy Gaussian mixtures, whose records carry modes_covered (8gaussians, 25gaussians).
  bool is_mixture() const;
  /// The number of modes of a toy mixture (8 or 25), else 0.
  int modes_total() const;
};

/// `summary.json`: how the run, or its latest session, ended.
struct RunSummary {
  std::string status;              ///< "completed", "interrupted", "non_finite"
  std::string message;             ///< for non_finite: what was not finite, and where
  long long steps = 0;             ///< the run's total
  double train_seconds = 0;        ///< training time across resumes
  double median_step_seconds = 0;  ///< this session
  double monitor_overhead = 0;     ///< monitoring time / training time, this session
};

/// A picture in `samples/`.
struct SampleImage {
  long long step = 0;  ///< from `step_NNNNNNN.png`
  std::string path;
};

/// A file `samples/surface_step_N.json` (2-D data only).
struct SurfaceFile {
  long long step = 0;
  std::string path;
};

/// The critic's value on a grid over the plane, with real and generated points
/// (Gulrajani et al. 2017, Figure 1a).
struct CriticSurface {
  long long step = 0;
  double x_min = 0, x_max = 0, y_min = 0, y_max = 0;
  int resolution = 0;  ///< R: the grid is R × R
  /// R·R values, row-major; row i lies at y = y_min + (i + ½)(y_max − y_min)/R, column j at
  /// x = x_min + (j + ½)(x_max − x_min)/R. `null` reads as NaN.
  std::vector<double> values;
  std::vector<std::pair<double, double>> real;  ///< real data points (x, y)
  std::vector<std::pair<double, double>> fake;  ///< generated points (x, y)
};

/// A file `eval_step_N.json` in the run directory: the JSON that `lipschitz eval RUN --json`
/// printed for the checkpoint at step N (docs/training.md, "lipschitz eval").
struct EvalFile {
  long long step = 0;  ///< from the file name
  std::string path;
};

/// One evaluation of a run's generator: every top-level number of an eval file
/// ("modes_covered", "high_quality_fraction", "frechet_distance", "inception_score", …).
struct EvalRecord {
  long long step = 0;  ///< the file's "step", else the step in its name
  std::vector<std::pair<std::string, double>> scalars;  ///< in file order; `null` reads as NaN

  /// The scalar `key`, NaN when the file does not have it.
  double value(const std::string& key) const;
};

/// The records of a `metrics.jsonl`.
struct MetricsFile {
  std::vector<Record> records;
  /// The last line was incomplete (the trainer was writing it) and was left out.
  bool truncated_last_line = false;
};

/// A run directory.
struct RunData {
  std::string dir;
  RunConfig config;
  std::vector<Record> records;        ///< in file order (increasing steps)
  bool truncated_last_line = false;   ///< see MetricsFile
  std::optional<RunSummary> summary;  ///< absent while the run is going (or was killed)
  std::vector<SampleImage> samples;   ///< `samples/step_N.png`, by increasing step
  std::string latest_sample;          ///< `samples/latest.png`, or empty
  std::vector<SurfaceFile> surfaces;  ///< `samples/surface_step_N.json`, by increasing step
  /// `eval_step_N.json` in the run directory, by step; empty files (still being written) are
  /// left out.
  std::vector<EvalFile> evals;
};

/// Parses one record (one line of metrics.jsonl). Throws std::invalid_argument saying what is
/// wrong (not JSON, not an object, no integer "step", a string where a number belongs).
Record parse_record(const std::string& json_line);

/// Reads `metrics.jsonl`. Blank lines are skipped; an incomplete last line (no newline, not
/// valid JSON) is dropped. Throws RunFormatError "PATH:LINE: …" for any other bad line, and for
/// a missing or unreadable file.
MetricsFile read_metrics(const std::string& path);

/// Reads `config.json`. Throws RunFormatError for a missing, unreadable or malformed file.
RunConfig read_config(const std::string& path);

/// Reads `summary.json`. Throws RunFormatError for an unreadable or malformed file.
RunSummary read_summary(const std::string& path);

/// Reads and checks a critic surface file. Throws RunFormatError naming the file and the
/// problem (missing keys, `values` not R·R numbers, an empty or reversed range).
CriticSurface read_surface(const std::string& path);

/// Reads an eval file. Throws RunFormatError naming the file for one that is unreadable, not a
/// JSON object, or has a string where a number belongs. `fallback_step` is used when the file
/// has no integer "step".
EvalRecord read_eval(const std::string& path, long long fallback_step = 0);

/// Reads a run directory: config.json and metrics.jsonl are required, summary.json, samples/
/// and eval_step_N.json files optional. Throws RunFormatError when `dir` is not a run directory
/// ("DIR: not a run directory (no config.json)"), when metrics.jsonl is missing or holds no record,
/// and for any malformed file.
RunData read_run(const std::string& dir);

}  // namespace lipschitz::view
