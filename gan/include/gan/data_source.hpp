#pragma once
/// \file data_source.hpp
/// Where a run's real samples come from: a toy distribution (sampled fresh, so every sample is
/// held out) or an image set in memory with a held-out part.

#include <gan/models.hpp>
#include <gan/toy_data.hpp>
#include <gan/train_options.hpp>

#include <ATen/core/Generator.h>
#include <ATen/core/Tensor.h>

#include <optional>
#include <string>

namespace lipschitz::gan {

class DataSource {
 public:
  /// Opens `options.data`: a toy set's name, "fashion-mnist", "mnist", or a directory (IDX
  /// files, CIFAR-10 binary batches, or PNG/JPEG images). Image sets are read whole; IDX and
  /// CIFAR-10 hold out their test split, folders every image whose index is a multiple of
  /// round(1/heldout_fraction). Throws DataError naming the file on unreadable data.
  static DataSource open(const TrainOptions& options);

  /// `n` real samples (CPU float: (n, 2) for toy data, (n, C, H, W) in [−1, 1] for images),
  /// drawn uniformly with `generator` from the training or the held-out part.
  at::Tensor sample(std::int64_t n, at::Generator generator, bool heldout = false) const;

  /// The networks' shapes for this data and `latent_dim`.
  ModelShape shape(std::int64_t latent_dim) const;
  /// The toy distribution, if this is one.
  const std::optional<ToySet>& toy() const { return toy_; }
  /// What was opened, for messages and the config ("8gaussians", "/path (60000 train, …)").
  const std::string& description() const { return description_; }

 private:
  std::optional<ToySet> toy_;
  at::Tensor train_, heldout_;
  std::string description_;
};

}  // namespace lipschitz::gan
