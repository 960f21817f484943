#pragma once
/// \file evaluation.hpp
/// How good a trained generator is: for toy mixtures, modes covered and high-quality share
/// (VEEGAN / PacGAN, ALGORITHMS.md §7) and a sliced Wasserstein distance to the data; for
/// labelled image sets, a classifier-based Fréchet distance and Inception-style score.

#include <gan/sample_quality.hpp>

#include <cstdint>
#include <string>

namespace lipschitz::gan {

struct EvalOptions {
  std::int64_t samples = 0;  ///< generated samples; 0: 2,500 for toy data, 10,000 for images
  std::uint64_t seed = 1;    ///< latent draws and reference data draws
  std::string cache_dir;     ///< classifier cache; empty: default_cache_dir()
};

struct EvalResult {
  std::string data;
  std::int64_t step = 0;  ///< generator updates of the evaluated checkpoint
  std::int64_t samples = 0;
  bool has_modes = false;  ///< a Gaussian mixture: `modes` is meaningful
  ModeCoverage modes;
  bool has_sliced_wasserstein = false;
  double sliced_wasserstein = 0;       ///< generated vs fresh data
  double sliced_wasserstein_data = 0;  ///< fresh data vs fresh data: the noise floor
  bool has_classifier = false;
  double classifier_accuracy = 0;  ///< the feature classifier's test accuracy
  std::string classifier_path;
  double frechet_distance = 0;          ///< generated vs the held-out (test) split
  double frechet_distance_data = 0;     ///< training split vs test split: the floor
  InceptionScore inception_score;       ///< of generated images
  InceptionScore inception_score_data;  ///< of test images: the ceiling
  double seconds = 0;
};

/// Evaluates the checkpoint in `run_dir`. Throws CheckpointError / DataError naming the file.
EvalResult evaluate_run(const std::string& run_dir, const EvalOptions& options = {});

}  // namespace lipschitz::gan
