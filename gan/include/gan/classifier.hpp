#pragma once
/// \file classifier.hpp
/// A small convolutional classifier trained by this project on a labelled image set's training
/// split — the feature extractor of the classifier-based Fréchet distance and Inception-style
/// score (no downloaded weights). Trained once per data set and cached.

#include <ATen/core/Tensor.h>
#include <torch/nn/module.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/pooling.h>
#include <torch/nn/pimpl.h>

#include <cstdint>
#include <string>

namespace lipschitz::gan {

/// conv3×3(32)–ReLU–maxpool2–conv3×3(64)–ReLU–maxpool2–adaptive-avgpool(4)–fc(128)–ReLU–fc(classes).
class ClassifierImpl : public torch::nn::Module {
 public:
  ClassifierImpl(std::int64_t channels, std::int64_t classes);
  /// Logits (B, classes).
  at::Tensor forward(const at::Tensor& x);
  /// The 128 penultimate features (B, 128): the space the Fréchet distance is measured in.
  at::Tensor features(const at::Tensor& x);

 private:
  torch::nn::Conv2d conv1_{nullptr}, conv2_{nullptr};
  torch::nn::Linear fc1_{nullptr}, fc2_{nullptr};
};
TORCH_MODULE(Classifier);

struct ClassifierInfo {
  Classifier model{nullptr};
  double test_accuracy = 0;  ///< on the data set's test split
  std::string path;          ///< the cache file
  bool trained_now = false;  ///< false when loaded from the cache
};

/// The classifier for the labelled image set `data` (as DataSource::open names it), loaded from
/// `cache_dir` or trained there (Adam 1e-3, batch 128, `epochs` epochs, fixed seed) and saved
/// atomically. Throws DataError when the set has no labels.
ClassifierInfo load_or_train_classifier(const std::string& data, const std::string& cache_dir,
                                        int epochs = 3);

/// The default cache directory: $XDG_CACHE_HOME/lipschitz, else ~/.cache/lipschitz.
std::string default_cache_dir();

}  // namespace lipschitz::gan
