#include <gan/metrics_log.hpp>

#include <lipschitz/json_writer.hpp>

#include <gan/atomic_file.hpp>

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <vector>

namespace lipschitz::gan {

namespace {

void write_summary(JsonWriter& j, const std::string& prefix, const Summary& s) {
  j.key(prefix + "_mean").value(s.mean);
  j.key(prefix + "_std").value(s.std);
  j.key(prefix + "_min").value(s.min);
  j.key(prefix + "_max").value(s.max);
}

/// The step a log line belongs to: the number after `{"step": ` (JSON) or before the first
/// comma (CSV); −1 for a header or a partial line.
std::int64_t line_step(const std::string& line, bool json) {
  if (line.empty()) return -1;
  if (json) {
    const std::string key = "{\"step\": ";
    if (line.compare(0, key.size(), key) != 0 || line.back() != '}') return -1;
    return std::strtoll(line.c_str() + key.size(), nullptr, 10);
  }
  if (line[0] < '0' || line[0] > '9') return -1;
  return std::strtoll(line.c_str(), nullptr, 10);
}

/// Keeps the header and the lines of steps ≤ `keep`; rewrites the file atomically.
void truncate_log(const std::string& path, std::int64_t keep, bool json, bool* has_header) {
  std::ifstream in(path);
  if (!in) return;
  std::string line, kept;
  while (std::getline(in, line)) {
    const std::int64_t step = line_step(line, json);
    if (!json && step < 0 && line.rfind("step,", 0) == 0) {
      *has_header = true;
      kept += line + '\n';
    } else if (step >= 0 && step <= keep) {
      kept += line + '\n';
    }
  }
  detail::replace_file_with_text(path, kept);
}

void append_line(const std::string& path, const std::string& line) {
  // One write of a whole line in append mode: a crash leaves at most a partial last line,
  // which the resume truncation above drops.
  std::FILE* f = std::fopen(path.c_str(), "a");
  if (!f) throw std::runtime_error(path + ": cannot open for appending: " + std::strerror(errno));
  const bool ok = std::fwrite(line.data(), 1, line.size(), f) == line.size();
  if (std::fclose(f) != 0 || !ok)
    throw std::runtime_error(path + ": cannot write: " + std::strerror(errno));
}

std::string csv_number(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.9g", v);
  return buf;
}

}  // namespace

std::string to_json(const MonitorRecord& r) {
  std::ostringstream out;
  JsonWriter j(out);
  j.begin_object();
  j.key("step").value(static_cast<long long>(r.step));
  j.key("seconds").value(r.seconds);
  j.key("wasserstein_estimate").value(r.wasserstein_estimate);
  j.key("critic_loss").value(r.critic_loss);
  j.key("gradient_penalty").value(r.gradient_penalty);
  j.key("generator_loss").value(r.generator_loss);
  write_summary(j, "grad_norm", r.grad_norm_interpolates);
  write_summary(j, "grad_norm_real", r.grad_norm_real);
  write_summary(j, "grad_norm_fake", r.grad_norm_fake);
  j.key("heldout_critic_loss").value(r.heldout_critic_loss);
  j.key("heldout_wasserstein_estimate").value(r.heldout_wasserstein_estimate);
  if (r.has_modes) {
    j.key("modes_covered").value(static_cast<long long>(r.modes_covered));
    j.key("high_quality_fraction").value(r.high_quality_fraction);
  }
  j.key("layer_spectral_norms").begin_object();
  for (const LayerRecord& l : r.layers) j.key(l.name).value(l.spectral_norm);
  j.end_object();
  j.key("layer_grad_norms").begin_object();
  for (const LayerRecord& l : r.layers) j.key(l.name).value(l.activation_grad_norm);
  j.end_object();
  // null when no certified bound exists (LayerNorm, §6): never a number that is not a bound.
  j.key("critic_upper_bound").value(r.critic_certified ? r.critic_upper_bound : std::nan(""));
  j.key("critic_certified").value(r.critic_certified);
  j.key("critic_bound_method").value(r.critic_certified ? r.critic_bound_method : std::string());
  j.key("critic_product_bound").value(r.critic_certified ? r.critic_product_bound : std::nan(""));
  j.key("layers").begin_array();
  for (const LayerRecord& l : r.layers) {
    j.begin_object();
    j.key("name").value(l.name);
    j.key("input_shape").value(l.input_shape);
    j.key("output_shape").value(l.output_shape);
    j.key("spectral_norm").value(l.spectral_norm);
    j.key("lower_bound").value(l.lower_bound);
    j.key("upper_bound").value(l.upper_bound);
    j.key("exact").value(l.exact);
    j.key("reshaped_weight_norm").value(l.reshaped_weight_norm);
    j.key("activation_grad_norm").value(l.activation_grad_norm);
    write_summary(j, "weight", l.weight);
    j.key("weight_at_clip").value(l.weight_at_clip);
    j.end_object();
  }
  j.end_array();
  j.key("weight_histograms").begin_object();
  for (const LayerRecord& l : r.layers) {
    j.key(l.name).begin_object();
    j.key("min").value(l.weight.min);
    j.key("max").value(l.weight.max);
    j.key("counts").int_array(l.weight_histogram);
    j.end_object();
  }
  j.end_object();
  j.key("spectral_seconds").value(r.spectral_seconds);
  j.key("monitor_seconds").value(r.monitor_seconds);
  j.end_object();
  return out.str();
}

MetricsLog::MetricsLog(const std::string& dir, std::int64_t keep_until_step)
    : jsonl_path_(dir + "/metrics.jsonl"), csv_path_(dir + "/metrics.csv") {
  if (keep_until_step >= 0) {
    bool unused = false;
    truncate_log(jsonl_path_, keep_until_step, true, &unused);
    truncate_log(csv_path_, keep_until_step, false, &csv_has_header_);
  } else {
    std::remove(jsonl_path_.c_str());
    std::remove(csv_path_.c_str());
  }
}

void MetricsLog::append(const MonitorRecord& r) {
  append_line(jsonl_path_, to_json(r) + '\n');

  std::vector<std::pair<std::string, double>> cols = {
      {"step", static_cast<double>(r.step)},
      {"seconds", r.seconds},
      {"wasserstein_estimate", r.wasserstein_estimate},
      {"critic_loss", r.critic_loss},
      {"gradient_penalty", r.gradient_penalty},
      {"generator_loss", r.generator_loss},
      {"grad_norm_mean", r.grad_norm_interpolates.mean},
      {"grad_norm_std", r.grad_norm_interpolates.std},
      {"grad_norm_min", r.grad_norm_interpolates.min},
      {"grad_norm_max", r.grad_norm_interpolates.max},
      {"grad_norm_real_mean", r.grad_norm_real.mean},
      {"grad_norm_fake_mean", r.grad_norm_fake.mean},
      {"heldout_critic_loss", r.heldout_critic_loss},
      {"heldout_wasserstein_estimate", r.heldout_wasserstein_estimate},
      {"critic_upper_bound", r.critic_certified ? r.critic_upper_bound : std::nan("")},
      {"critic_product_bound", r.critic_certified ? r.critic_product_bound : std::nan("")},
  };
  if (r.has_modes) {
    cols.emplace_back("modes_covered", r.modes_covered);
    cols.emplace_back("high_quality_fraction", r.high_quality_fraction);
  }
  for (const LayerRecord& l : r.layers) {
    cols.emplace_back(l.name + "_spectral_norm", l.spectral_norm);
    cols.emplace_back(l.name + "_lower_bound", l.lower_bound);
    cols.emplace_back(l.name + "_upper_bound", l.upper_bound);
    cols.emplace_back(l.name + "_grad_norm", l.activation_grad_norm);
    cols.emplace_back(l.name + "_weight_std", l.weight.std);
  }
  std::string line;
  if (!csv_has_header_) {
    for (std::size_t i = 0; i < cols.size(); ++i) line += (i ? "," : "") + cols[i].first;
    line += '\n';
    csv_has_header_ = true;
  }
  for (std::size_t i = 0; i < cols.size(); ++i) {
    if (i) line += ',';
    line += i == 0 ? std::to_string(r.step) : csv_number(cols[i].second);
  }
  append_line(csv_path_, line + '\n');
}

}  // namespace lipschitz::gan
