#pragma once
/// \file metrics_log.hpp
/// The run directory's `metrics.jsonl` (one JSON object per record) and `metrics.csv` (the
/// same, one column per scalar), appended atomically record by record.

#include <gan/monitor_record.hpp>

#include <cstdint>
#include <string>

namespace lipschitz::gan {

/// One record as a single-line JSON object; `step` is its first key.
std::string to_json(const MonitorRecord& record);

/// Appends records to DIR/metrics.jsonl and DIR/metrics.csv.
class MetricsLog {
 public:
  /// Opens (creating if needed) the logs in `dir`. With `keep_until_step` ≥ 0, records after that
  /// step are dropped first: a resumed run continues from its checkpoint and rewrites the
  /// records the interrupted run logged after it, so the log matches an uninterrupted run.
  explicit MetricsLog(const std::string& dir, std::int64_t keep_until_step = -1);
  /// Writes one record to both files and flushes them.
  void append(const MonitorRecord& record);

 private:
  std::string jsonl_path_, csv_path_;
  bool csv_has_header_ = false;
};

}  // namespace lipschitz::gan
