#pragma once
/// \file trainer.hpp
/// One GAN / WGAN / WGAN-GP training process: the data, both networks, their optimisers and
/// the random streams, stepped one generator update at a time, measured on demand, and saved
/// to / restored from one checkpoint file (ALGORITHMS.md §7–8).

#include <gan/data_source.hpp>
#include <gan/models.hpp>
#include <gan/monitor_record.hpp>
#include <gan/train_options.hpp>

#include <ATen/core/Generator.h>
#include <c10/core/Device.h>
#include <torch/optim/optimizer.h>

#include <memory>
#include <string>

namespace lipschitz::gan {

/// How a step ended. NaN/Inf is a result, not an exception (STYLE.md).
enum class StepStatus {
  ok,         ///< losses and parameters finite
  non_finite  ///< a loss became NaN/Inf; the models are not usable
};

/// What one generator update measured, as plain numbers.
struct StepResult {
  StepStatus status = StepStatus::ok;
  double critic_loss = 0;           ///< last critic update's loss (penalty included)
  double gradient_penalty = 0;      ///< its penalty term λ·E[…] (0 unless WGAN-GP)
  double wasserstein_estimate = 0;  ///< E[D(real)] − E[D(fake)] in that update
  double generator_loss = 0;
  std::string message;  ///< what was non-finite, when status is non_finite
};

class Trainer {
 public:
  /// A fresh run: opens the data (DataError on failure), builds models and optimisers on
  /// `options.device`, seeds every random stream from `options.seed`.
  explicit Trainer(const TrainOptions& options);
  Trainer(Trainer&&) = default;
  Trainer& operator=(Trainer&&) = default;

  /// The options stored in a checkpoint (CheckpointError if it is unreadable or foreign).
  static TrainOptions checkpoint_options(const std::string& path);
  /// Restores models, optimisers, random streams, step and clock from a checkpoint written by
  /// a Trainer built with the same options.
  void load_checkpoint(const std::string& path);
  /// Writes everything needed to continue bit-for-bit to `path`, atomically (a temporary file
  /// in the same directory, then rename): a crash leaves the previous checkpoint intact.
  /// Refuses (CheckpointError) when a parameter is NaN/Inf: a checkpoint is always a good one.
  void save_checkpoint(const std::string& path) const;
  /// Every parameter of both networks is finite.
  bool parameters_finite() const;

  /// n_critic critic updates, then one generator update (Gulrajani et al. 2017, Algorithm 1).
  StepResult step();
  /// Measures the critic and the generator on fresh batches drawn from the monitoring stream
  /// (so monitoring never changes the training trajectory). Costs a few forward/backward
  /// passes plus one engine analysis per critic layer; `with_spectra = false` skips the engine.
  MonitorRecord monitor(bool with_spectra = true);

  /// `n` generated samples on the CPU (eval mode, then back to train mode), from `generator`.
  at::Tensor generate(std::int64_t n, at::Generator generator);

  std::int64_t steps_done() const { return step_; }
  /// Training wall time so far, across resumes (monitoring and I/O excluded).
  double train_seconds() const { return train_seconds_; }
  void add_train_seconds(double s) { train_seconds_ += s; }
  const TrainOptions& options() const { return options_; }
  /// Changes the number of generator updates to train for (to extend a resumed run).
  void set_steps(std::int64_t steps) { options_.steps = steps; }
  const DataSource& data() const { return data_; }
  Critic& critic() { return critic_; }
  Generator& generator() { return generator_; }

 private:
  /// The critic's objective on one batch, with the parts that are logged.
  struct CriticLoss {
    at::Tensor loss;         ///< what the critic minimises (penalty included)
    at::Tensor penalty;      ///< λ·E(‖∇D(x̂)‖ − 1)² for WGAN-GP, 0 otherwise
    at::Tensor wasserstein;  ///< E D(real) − E D(fake), the critic's W estimate
  };
  CriticLoss critic_loss(const at::Tensor& real, const at::Tensor& fake, at::Generator& rng);
  at::Tensor latent(std::int64_t n, at::Generator& generator) const;
  /// A batch from the generator, or real data + N(0, 1) noise for a fixed generator.
  at::Tensor fake_batch(std::int64_t n, at::Generator& generator);

  TrainOptions options_;
  DataSource data_;
  c10::Device device_;
  Critic critic_{nullptr};
  Generator generator_{nullptr};
  std::unique_ptr<torch::optim::Optimizer> critic_opt_, generator_opt_;
  at::Generator train_rng_;    ///< every random draw of training
  at::Generator monitor_rng_;  ///< every random draw of monitoring and sampling
  std::int64_t step_ = 0;
  double train_seconds_ = 0;
};

/// A checkpoint that cannot be read, or one written for different settings.
class CheckpointError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

}  // namespace lipschitz::gan
