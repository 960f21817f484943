#include <gan/metrics_log.hpp>
#include <gan/samples.hpp>
#include <gan/trainer.hpp>
#include <gan/training_run.hpp>

#include <gan/atomic_file.hpp>

#include <lipschitz/json_writer.hpp>

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iomanip>
#include <ostream>
#include <sstream>
#include <stdexcept>
#include <vector>

namespace lipschitz::gan {

namespace {

constexpr std::uint64_t kSampleSeedOffset = 7919;  ///< fixed latent points for sample grids
constexpr std::int64_t kToySamples = 1000, kImageSamples = 64;

using Clock = std::chrono::steady_clock;

bool exists(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0;
}

void make_directory(const std::string& path) {
  std::string partial;
  std::stringstream parts(path);
  std::string part;
  if (!path.empty() && path[0] == '/') partial = "/";
  while (std::getline(parts, part, '/')) {
    if (part.empty()) continue;
    partial += part + "/";
    if (::mkdir(partial.c_str(), 0777) != 0 && errno != EEXIST)
      throw std::runtime_error(partial + ": cannot create directory: " + std::strerror(errno));
  }
}

std::string config_json(const TrainOptions& options, const std::string& data_description) {
  std::ostringstream out;
  JsonWriter j(out);
  j.begin_object();
  for (const auto& [key, value] : to_map(options)) {
    j.key(key);
    char* end = nullptr;
    errno = 0;
    const long long integer = std::strtoll(value.c_str(), &end, 10);
    const bool is_integer = !value.empty() && *end == '\0' && errno == 0;
    const double number = std::strtod(value.c_str(), &end);
    const bool is_number = !value.empty() && *end == '\0';
    if (value == "true" || value == "false")
      j.value(value == "true");
    else if (key == "data" || key == "device")
      j.value(value);
    else if (is_integer)
      j.value(integer);  // exact, also above 2^53 (seeds)
    else if (is_number && key != "seed")
      j.value(number);
    else
      j.value(value);  // a seed above 2^63 stays exact as text
  }
  j.key("data_description").value(data_description);
  j.end_object();
  return out.str() + "\n";
}

std::string format_duration(double s) {
  char buf[32];
  if (s >= 3600)
    std::snprintf(buf, sizeof buf, "%dh%02dm", static_cast<int>(s / 3600),
                  static_cast<int>(std::fmod(s, 3600) / 60));
  else if (s >= 60)
    std::snprintf(buf, sizeof buf, "%dm%02ds", static_cast<int>(s / 60),
                  static_cast<int>(std::fmod(s, 60)));
  else
    std::snprintf(buf, sizeof buf, "%.0fs", s);
  return buf;
}

std::string format_record(const MonitorRecord& r) {
  std::ostringstream s;
  s << std::setprecision(4) << "W " << r.wasserstein_estimate << "  loss " << r.critic_loss
    << "  gp " << r.gradient_penalty << "  |grad| " << r.grad_norm_interpolates.mean << " (max "
    << r.grad_norm_interpolates.max << ")";
  if (r.has_modes)
    s << "  modes " << r.modes_covered << " HQ " << std::setprecision(3)
      << 100 * r.high_quality_fraction << "%" << std::setprecision(4);
  if (!r.layers.empty()) {
    if (r.critic_certified)
      s << "  Lip(D) <= " << r.critic_upper_bound
        << (r.critic_bound_method == "product" ? "" : " (" + r.critic_bound_method + ")");
    else
      s << "  Lip(D): no bound (LayerNorm)";
  }
  return s.str();
}

class Loop {
 public:
  Loop(Trainer& trainer, const RunOptions& run) : trainer_(trainer), run_(run), dir_(run.out_dir) {}

  RunSummary run(MetricsLog& log) {
    RunSummary summary;
    const TrainOptions& o = trainer_.options();
    auto last_draw = Clock::now() - std::chrono::seconds(1);
    while (trainer_.steps_done() < o.steps) {
      if (run_.stop && *run_.stop) {
        trainer_.save_checkpoint(dir_ + "/checkpoint.pt");
        summary.status = RunStatus::interrupted;
        break;
      }
      const auto t0 = Clock::now();
      const StepResult step = trainer_.step();
      const double dt = std::chrono::duration<double>(Clock::now() - t0).count();
      trainer_.add_train_seconds(dt);
      session_train_ += dt;
      step_times_.push_back(dt);
      last_step_ = step;
      if (step.status == StepStatus::non_finite) {
        summary.status = RunStatus::non_finite;
        summary.message = step.message + "; training stopped. The last good checkpoint is " + dir_ +
                          "/checkpoint.pt (step " + std::to_string(last_checkpoint_) + ")";
        break;
      }
      const std::int64_t s = trainer_.steps_done();
      const bool recorded = o.monitor_every > 0 && s % o.monitor_every == 0;
      if (recorded) record(log);
      if (o.sample_every > 0 && s % o.sample_every == 0) samples();
      if (recorded && run_.on_record) {
        if (run_.progress_bar && run_.log) *run_.log << "\r\x1b[K";
        run_.on_record(s);
      }
      if (s % o.checkpoint_every == 0 || s == o.steps) {
        if (!trainer_.parameters_finite()) {
          summary.status = RunStatus::non_finite;
          summary.message = "step " + std::to_string(s) +
                            ": a parameter became NaN/Inf; training stopped. The last good "
                            "checkpoint is " +
                            dir_ + "/checkpoint.pt (step " + std::to_string(last_checkpoint_) + ")";
          break;
        }
        trainer_.save_checkpoint(dir_ + "/checkpoint.pt");
        last_checkpoint_ = s;
      }
      if (run_.progress_bar && run_.log &&
          (Clock::now() - last_draw > std::chrono::milliseconds(200) || s == o.steps)) {
        draw_bar();
        last_draw = Clock::now();
      }
    }
    if (run_.progress_bar && run_.log) *run_.log << '\n';
    if (summary.status == RunStatus::completed) samples();
    summary.steps = trainer_.steps_done();
    summary.train_seconds = trainer_.train_seconds();
    summary.session_train_seconds = session_train_;
    summary.monitor_seconds = monitor_seconds_;
    summary.monitor_overhead = session_train_ > 0 ? monitor_seconds_ / session_train_ : 0;
    if (!step_times_.empty()) {
      std::vector<double> t = step_times_;
      std::nth_element(t.begin(), t.begin() + static_cast<std::ptrdiff_t>(t.size() / 2), t.end());
      summary.median_step_seconds = t[t.size() / 2];
    }
    return summary;
  }

  void set_last_checkpoint(std::int64_t step) { last_checkpoint_ = step; }

  void record(MetricsLog& log) {
    const MonitorRecord r = trainer_.monitor();
    monitor_seconds_ += r.monitor_seconds;
    log.append(r);
    last_record_ = format_record(r);
    if (run_.log && !run_.progress_bar)
      *run_.log << "step " << r.step << "/" << trainer_.options().steps << "  " << last_record_
                << "  [" << format_duration(r.seconds) << "]\n"
                << std::flush;
  }

 private:
  void samples() {
    make_directory(dir_ + "/samples");
    const bool toy = trainer_.data().toy().has_value();
    const std::int64_t n = toy ? kToySamples : kImageSamples;
    const std::uint64_t seed = trainer_.options().seed + kSampleSeedOffset;
    char name[64];
    std::snprintf(name, sizeof name, "/samples/step_%07lld.png",
                  static_cast<long long>(trainer_.steps_done()));
    write_samples(trainer_, dir_ + name, n, seed);
    write_samples(trainer_, dir_ + "/samples/latest.png", n, seed);
    if (toy && trainer_.data().shape(0).data_dim == 2) {
      std::snprintf(name, sizeof name, "/samples/surface_step_%07lld.json",
                    static_cast<long long>(trainer_.steps_done()));
      write_critic_surface(trainer_, dir_ + name, seed);
    }
  }

  void draw_bar() {
    const std::int64_t s = trainer_.steps_done(), total = trainer_.options().steps;
    const double frac = static_cast<double>(s) / static_cast<double>(total);
    const int width = 24, filled = static_cast<int>(frac * width);
    const double per_step = session_train_ / static_cast<double>(step_times_.size());
    const double overhead = session_train_ > 0 ? 1 + monitor_seconds_ / session_train_ : 1;
    const double eta = per_step * overhead * static_cast<double>(total - s);
    std::ostringstream line;
    line << "\r[" << std::string(static_cast<std::size_t>(filled), '#')
         << std::string(static_cast<std::size_t>(width - filled), '.') << "] " << s << "/" << total
         << " ETA " << format_duration(eta) << "  " << last_record_ << "\x1b[K";
    *run_.log << line.str() << std::flush;
  }

  Trainer& trainer_;
  const RunOptions& run_;
  std::string dir_;
  std::vector<double> step_times_;
  double session_train_ = 0, monitor_seconds_ = 0;
  std::int64_t last_checkpoint_ = 0;
  StepResult last_step_;
  std::string last_record_ = "(no record yet)";
};

/// A run killed mid-write leaves the temporary files of its atomic writes behind; the process
/// that continues the directory removes them.
void remove_temporaries(const std::string& dir) {
  detail::remove_abandoned_temporaries(dir);
  detail::remove_abandoned_temporaries(dir + "/samples");
}

void write_summary(const std::string& dir, const RunSummary& s) {
  std::ostringstream out;
  JsonWriter j(out);
  j.begin_object();
  j.key("status").value(to_string(s.status));
  j.key("steps").value(static_cast<long long>(s.steps));
  j.key("train_seconds").value(s.train_seconds);
  j.key("session_train_seconds").value(s.session_train_seconds);
  j.key("median_step_seconds").value(s.median_step_seconds);
  j.key("monitor_seconds").value(s.monitor_seconds);
  j.key("monitor_overhead").value(s.monitor_overhead);
  j.key("message").value(s.message);
  j.end_object();
  detail::replace_file_with_text(dir + "/summary.json", out.str() + "\n");
}

}  // namespace

std::string to_string(RunStatus status) {
  switch (status) {
    case RunStatus::completed:
      return "completed";
    case RunStatus::interrupted:
      return "interrupted";
    case RunStatus::non_finite:
      return "non_finite";
  }
  return "?";
}

RunSummary start_training(const TrainOptions& options, const RunOptions& run) {
  validate(options);
  // Only a checkpoint makes a run: a directory killed before its step-0 checkpoint holds
  // nothing that could be resumed, and may be started again.
  if (exists(run.out_dir + "/checkpoint.pt"))
    throw std::invalid_argument(run.out_dir +
                                ": already holds a run; use --resume to continue it or choose "
                                "another --out (nothing was changed)");
  Trainer trainer(options);
  make_directory(run.out_dir);
  remove_temporaries(run.out_dir);
  detail::replace_file_with_text(run.out_dir + "/config.json",
                                 config_json(options, trainer.data().description()));
  if (run.log)
    *run.log << "lipschitz train: " << to_string(options.objective) << " on "
             << trainer.data().description() << ", " << options.steps << " steps -> " << run.out_dir
             << "\n";
  MetricsLog log(run.out_dir);
  Loop loop(trainer, run);
  if (options.monitor_every > 0) loop.record(log);
  // A checkpoint at step 0 (after its record): a run killed before its first periodic
  // checkpoint can still be resumed, and the resumed log holds step 0 once.
  trainer.save_checkpoint(run.out_dir + "/checkpoint.pt");
  const RunSummary summary = loop.run(log);
  write_summary(run.out_dir, summary);
  return summary;
}

RunSummary resume_training(const RunOptions& run, std::int64_t steps) {
  const std::string checkpoint = run.out_dir + "/checkpoint.pt";
  TrainOptions options = Trainer::checkpoint_options(checkpoint);
  if (steps > 0) options.steps = steps;
  Trainer trainer(options);
  trainer.load_checkpoint(checkpoint);
  remove_temporaries(run.out_dir);
  if (trainer.steps_done() > options.steps)
    throw std::invalid_argument("--steps " + std::to_string(options.steps) +
                                " is below the checkpoint's step " +
                                std::to_string(trainer.steps_done()) + " in " + checkpoint);
  if (steps > 0)
    detail::replace_file_with_text(run.out_dir + "/config.json",
                                   config_json(options, trainer.data().description()));
  if (run.log)
    *run.log << "lipschitz train: resuming " << run.out_dir << " at step " << trainer.steps_done()
             << " of " << options.steps << "\n";
  MetricsLog log(run.out_dir, trainer.steps_done());
  Loop loop(trainer, run);
  loop.set_last_checkpoint(trainer.steps_done());
  const RunSummary summary = loop.run(log);
  write_summary(run.out_dir, summary);
  return summary;
}

}  // namespace lipschitz::gan
