#pragma once
/// \file training_run.hpp
/// A training run with its run directory: the loop around Trainer that logs, samples,
/// checkpoints, shows progress and stops cleanly (docs/training.md describes the files).
///
/// Run directory layout:
/// - `config.json`       every setting (TrainOptions, to_map names) and the data's description
/// - `checkpoint.pt`     models, optimisers, random streams, step (atomic; latest only)
/// - `metrics.jsonl`     one MonitorRecord per line (see metrics_log.hpp)
/// - `metrics.csv`       the same, one column per scalar
/// - `samples/step_NNNNNNN.png`, `samples/latest.png`   sample grids or 2-D scatter plots
/// - `summary.json`      how the run ended, step times and monitoring overhead

#include <gan/train_options.hpp>

#include <csignal>
#include <cstdint>
#include <functional>
#include <iosfwd>
#include <string>

namespace lipschitz::gan {

/// How a run ended.
enum class RunStatus {
  completed,    ///< all `steps` done
  interrupted,  ///< a stop was requested (SIGINT/SIGTERM); a checkpoint was written first
  non_finite    ///< NaN/Inf appeared; the last good checkpoint is kept untouched
};
std::string to_string(RunStatus status);

struct RunOptions {
  std::string out_dir;          ///< the run directory
  bool progress_bar = false;    ///< a live bar on `log` (for terminals); else one line per record
  std::ostream* log = nullptr;  ///< where progress goes; nullptr: nowhere
  /// Set asynchronously (a signal handler) to ask the loop to checkpoint and stop.
  const volatile std::sig_atomic_t* stop = nullptr;
  /// Called after each monitoring record is in metrics.jsonl (and after the samples of that
  /// step are written), with the step: `lipschitz train` checks stability alerts and refreshes
  /// the run's page here. Exceptions it throws are the caller's to handle; keep it cheap.
  std::function<void(std::int64_t step)> on_record;
};

struct RunSummary {
  RunStatus status = RunStatus::completed;
  std::int64_t steps = 0;            ///< generator updates done in total
  double train_seconds = 0;          ///< training time of the whole run (across resumes)
  double session_train_seconds = 0;  ///< training time of this process
  double median_step_seconds = 0;    ///< median time of one generator update in this process
  double monitor_seconds = 0;        ///< monitoring time of this process
  double monitor_overhead = 0;       ///< monitor_seconds / session_train_seconds
  std::string message;               ///< for non_finite: what, where the good checkpoint is
};

/// Starts a new run in `run.out_dir`, which must not hold a run already (no overwriting: use
/// resume_training). Throws std::invalid_argument on bad options, DataError on bad data,
/// std::runtime_error on I/O errors.
RunSummary start_training(const TrainOptions& options, const RunOptions& run);

/// Continues the run in `run.out_dir` from its checkpoint, bit-for-bit as if it had never
/// stopped (with deterministic kernels); `steps` > 0 changes the total number of steps.
RunSummary resume_training(const RunOptions& run, std::int64_t steps = 0);

}  // namespace lipschitz::gan
