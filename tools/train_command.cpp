// `lipschitz train` (the program lipschitz-train): trains a GAN, WGAN or WGAN-GP with live
// Lipschitz monitoring. Parses options, calls gan::start_training / resume_training, prints.

#include "command_errors.hpp"

#include <gan/image_data.hpp>
#include <gan/trainer.hpp>
#include <gan/training_run.hpp>
#include <view/alerts.hpp>
#include <view/page.hpp>

#include <boost/program_options.hpp>
#include <gan/threads.hpp>

#include <unistd.h>

#include <chrono>
#include <csignal>
#include <ctime>
#include <iostream>
#include <map>
#include <string>
#include <thread>

namespace po = boost::program_options;
using namespace lipschitz::gan;
namespace view = lipschitz::view;

namespace {

volatile std::sig_atomic_t g_stop = 0;  ///< the signal that asked the run to stop, or 0
void on_signal(int signal) {
  g_stop = signal;
  std::signal(signal, SIG_DFL);  // a second Ctrl-C stops at once, without the checkpoint
}

/// Command-line flag → TrainOptions field (to_map's names).
const std::map<std::string, std::string> kFlagToField = {
    {"data", "data"},
    {"image-size", "image_size"},
    {"channels", "channels"},
    {"heldout-fraction", "heldout_fraction"},
    {"objective", "objective"},
    {"lambda", "lambda"},
    {"clip", "clip"},
    {"critic-iters", "critic_iters"},
    {"optimizer", "optimizer"},
    {"lr", "lr"},
    {"beta1", "beta1"},
    {"beta2", "beta2"},
    {"batch-size", "batch_size"},
    {"steps", "steps"},
    {"model", "model"},
    {"width", "width"},
    {"depth", "depth"},
    {"latent-dim", "latent_dim"},
    {"critic-norm", "critic_norm"},
    {"generator-bn", "generator_batchnorm"},
    {"monitor-every", "monitor_every"},
    {"sample-every", "sample_every"},
    {"checkpoint-every", "checkpoint_every"},
    {"monitor-batch", "monitor_batch"},
    {"spectral-tolerance", "spectral_tolerance"},
    {"seed", "seed"},
    {"threads", "threads"},
    {"device", "device"},
    {"inject-nan-at", "inject_nan_at"},
};

std::string default_out_dir(const TrainOptions& o) {
  char stamp[32];
  const std::time_t now = std::time(nullptr);
  std::strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S", std::localtime(&now));
  std::string data = o.data;
  for (char& c : data)
    if (c == '/' || c == '.') c = '_';
  return "runs/" + data + "-" + to_string(o.objective) + "-" + stamp;
}

}  // namespace

// The run's page (view.html) and stability alerts while it trains: alerts are checked after
// every monitoring record and printed once each; the page is rewritten at most every
// kPageInterval (about 0.2–0.5 s each, so < 1 % of the wall time), and at the end with the
// charts as SVG and PNG. A problem here is reported once and never stops training.
class RunWatcher {
 public:
  static constexpr std::chrono::seconds kPageInterval{60};

  explicit RunWatcher(std::ostream* log) : log_(log) {}

  void after_record(const std::string& dir) {
    guarded([&] {
      const view::RunData run = view::read_run(dir);
      print_new(view::detect_alerts(run));
      const auto now = std::chrono::steady_clock::now();
      if (now - last_page_ >= kPageInterval) {
        view::ViewOptions options;
        options.chart_files = false;
        view::write_view(dir, options);
        last_page_ = now;
      }
    });
  }

  void at_end(const std::string& dir) {
    guarded([&] {
      const view::ViewResult page = view::write_view(dir);
      print_new(page.alerts);
      if (log_) *log_ << "lipschitz train: page " << page.html_path << "\n";
    });
  }

 private:
  void print_new(const std::vector<view::Alert>& alerts) {
    if (log_)
      for (const view::Alert& a : view::new_alerts(shown_, alerts))
        *log_ << "alert: " << view::format_alert(a) << "\n" << std::flush;
    shown_ = alerts;
  }
  template <class F>
  void guarded(F&& f) {
    try {
      f();
    } catch (const std::exception& e) {
      if (log_ && !warned_) *log_ << "lipschitz train: warning: the run page: " << e.what() << "\n";
      warned_ = true;
    }
  }

  std::ostream* log_;
  std::vector<view::Alert> shown_;
  std::chrono::steady_clock::time_point last_page_{};
  bool warned_ = false;
};

int main(int argc, char** argv) {
  ensure_passive_openmp(argv);
  const TrainOptions d;
  po::options_description data_opts("Data");
  data_opts.add_options()(
      "data", po::value<std::string>(),
      ("8gaussians | 25gaussians | swissroll | fashion-mnist "
       "| mnist | DIR (IDX files, CIFAR-10 binary batches, or PNG/JPEG images) [" +
       d.data + "]")
          .c_str())("image-size", po::value<std::string>(),
                    "images: side in pixels [the data's own; 64 for folders]")(
      "channels", po::value<std::string>(), "image folders: 1 or 3 [3]")(
      "heldout-fraction", po::value<std::string>(), "image folders: share held out [0.1]");
  po::options_description objective_opts("Objective");
  objective_opts.add_options()("objective", po::value<std::string>(),
                               "gan | wgan | wgan-gp [wgan-gp]")(
      "lambda", po::value<std::string>(), "WGAN-GP penalty weight [10; toy data: 0.1]")(
      "one-sided", po::bool_switch(), "penalise only max(0, |grad D| - 1)^2")(
      "fixed-generator", po::bool_switch(),
      "train the critic only, against real data + N(0,1) noise (Figure 1a)")(
      "clip", po::value<std::string>(), "WGAN weight clipping bound c [0.01]")(
      "critic-iters", po::value<std::string>(), "critic updates per generator update [5; gan: 1]");
  po::options_description optim_opts("Optimisation");
  optim_opts.add_options()("optimizer", po::value<std::string>(),
                           "adam | rmsprop [adam; wgan: rmsprop]")(
      "lr", po::value<std::string>(), "learning rate [1e-4; wgan: 5e-5; gan: 2e-4]")(
      "beta1", po::value<std::string>(), "Adam beta1 [0.5]")("beta2", po::value<std::string>(),
                                                             "Adam beta2 [0.9; gan: 0.999]")(
      "batch-size", po::value<std::string>(), "batch size [256; images: 64]")(
      "steps", po::value<std::string>(),
      ("generator updates [" + std::to_string(d.steps) + "; images: 2000]").c_str());
  po::options_description model_opts("Models");
  model_opts.add_options()("model", po::value<std::string>(), "mlp | dcgan [mlp; images: dcgan]")(
      "width", po::value<std::string>(), "MLP hidden units / DCGAN base channels [128; dcgan: 64]")(
      "depth", po::value<std::string>(), "MLP hidden layers [3]")(
      "latent-dim", po::value<std::string>(), "generator input size [2; images: 128]")(
      "critic-norm", po::value<std::string>(), "none | layernorm [none]")(
      "generator-bn", po::value<std::string>(),
      "true | false: BatchNorm in the generator [images: true; toy: false]");
  po::options_description run_opts("Monitoring and output");
  run_opts.add_options()("out", po::value<std::string>(),
                         "run directory [runs/DATA-OBJECTIVE-TIME]")(
      "resume", po::value<std::string>(),
      "continue the run in this directory (--steps may extend it)")(
      "monitor-every", po::value<std::string>(),
      "steps between monitoring records, 0 = never [200; images: 100]")(
      "sample-every", po::value<std::string>(),
      "steps between sample PNGs, 0 = at the end only [2000; images: 500]")(
      "checkpoint-every", po::value<std::string>(),
      "steps between checkpoints [1000; images: 500]")(
      "monitor-batch", po::value<std::string>(), "samples per monitoring record [256; images: 64]")(
      "spectral-tolerance", po::value<std::string>(),
      "relative width of each layer's certified interval [1e-4]")("seed", po::value<std::string>(),
                                                                  "random seed [0]")(
      "threads", po::value<std::string>(), "LibTorch and engine threads, 0 = all cores [0]")(
      "device", po::value<std::string>(), "cpu | cuda | cuda:N [cpu]")(
      "deterministic", po::bool_switch(),
      "deterministic kernels (bit-for-bit resume on any device)")(
      "progress", po::value<std::string>()->default_value("auto"), "auto | bar | lines | none")(
      "help,h", "this text");
  po::options_description hidden;
  hidden.add_options()("inject-nan-at", po::value<std::string>(),
                       "testing: poison the critic before this step");
  po::options_description visible(
      "Usage: lipschitz train [options]\n\n"
      "With no options: WGAN-GP on 8 Gaussians, monitoring on.\n\nOptions");
  visible.add(data_opts).add(objective_opts).add(optim_opts).add(model_opts).add(run_opts);
  po::options_description all;
  all.add(visible).add(hidden);

  po::variables_map vm;
  try {
    po::store(po::command_line_parser(argc, argv).options(all).run(), vm);
    po::notify(vm);
  } catch (const po::error& e) {
    std::cerr << "lipschitz train: " << e.what() << "\n(see lipschitz train --help)\n";
    return 2;
  }
  if (vm.count("help")) {
    std::cout << visible
              << "\nFiles written to the run directory: config.json, checkpoint.pt, "
                 "metrics.jsonl, metrics.csv, samples/*.png, summary.json (docs/training.md).\n";
    return 0;
  }

  std::map<std::string, std::string> set;
  for (const auto& [flag, field] : kFlagToField)
    if (vm.count(flag)) set[field] = vm[flag].as<std::string>();
  if (vm["one-sided"].as<bool>()) set["one_sided"] = "true";
  if (vm["fixed-generator"].as<bool>()) set["fixed_generator"] = "true";
  if (vm["deterministic"].as<bool>()) set["deterministic"] = "true";
  const std::string progress = vm["progress"].as<std::string>();
  if (progress != "auto" && progress != "bar" && progress != "lines" && progress != "none") {
    std::cerr << "lipschitz train: --progress must be auto, bar, lines or none: got '" << progress
              << "'\n";
    return 2;
  }

  try {
    RunOptions run;
    run.log = progress == "none" ? nullptr : &std::cerr;
    run.progress_bar = progress == "bar" || (progress == "auto" && ::isatty(2));
    run.stop = &g_stop;
    RunWatcher watcher(run.log);
    run.on_record = [&](std::int64_t) { watcher.after_record(run.out_dir); };
    std::signal(SIGINT, on_signal);
    std::signal(SIGTERM, on_signal);

    RunSummary summary;
    if (vm.count("resume")) {
      for (const auto& [flag, field] : kFlagToField)
        if (vm.count(flag) && flag != "steps" && flag != "threads")
          throw std::invalid_argument(
              "--resume continues a run with its own settings; only "
              "--steps and --threads may be given with it (got --" +
              flag + ")");
      for (const char* flag : {"out", "one-sided", "fixed-generator", "deterministic"})
        if (vm.count(flag) && !vm[flag].defaulted())
          throw std::invalid_argument(std::string("--resume continues a run with its own "
                                                  "settings; only --steps and --threads may be "
                                                  "given with it (got --") +
                                      flag + ")");
      run.out_dir = vm["resume"].as<std::string>();
      const TrainOptions stored = Trainer::checkpoint_options(run.out_dir + "/checkpoint.pt");
      // Parsed and range-checked as for a new run: the same messages.
      const TrainOptions given = options_from_map(set);
      validate(given);
      const std::int64_t steps = set.count("steps") ? given.steps : 0;
      set_compute_threads(set.count("threads") ? given.threads : stored.threads);
      summary = resume_training(run, steps);
    } else {
      TrainOptions options = options_from_map(set);
      apply_defaults(options, set);
      validate(options);
      run.out_dir = vm.count("out") ? vm["out"].as<std::string>() : default_out_dir(options);
      set_compute_threads(options.threads);
      summary = start_training(options, run);
    }
    watcher.at_end(run.out_dir);
    std::cerr << "lipschitz train: " << to_string(summary.status) << " at step " << summary.steps
              << " in " << run.out_dir << " (training " << summary.session_train_seconds
              << " s, median step " << summary.median_step_seconds * 1e3 << " ms, monitoring "
              << summary.monitor_seconds << " s = " << summary.monitor_overhead * 100
              << " % of training)\n";
    switch (summary.status) {
      case RunStatus::completed:
        return 0;
      case RunStatus::interrupted:
        std::cerr << "lipschitz train: stopped on request; continue with: lipschitz train "
                     "--resume "
                  << run.out_dir << "\n";
        return 128 + static_cast<int>(g_stop);  // the shell's convention: 130 for SIGINT
      case RunStatus::non_finite:
        std::cerr << "lipschitz train: error: " << summary.message << "\n";
        return 3;
    }
  } catch (...) {
    return lipschitz::tools::command_error_exit("train");
  }
  return 1;
}
