#include <gan/classifier.hpp>
#include <gan/image_data.hpp>

#include <torch/torch.h>

#include <gan/atomic_file.hpp>

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <functional>
#include <iostream>

namespace lipschitz::gan {

namespace {

constexpr std::int64_t kFeatures = 128;

at::Tensor to_tensor(const ImageSet& set) {
  return at::from_blob(const_cast<float*>(set.pixels.data()),
                       {set.count, set.channels, set.height, set.width}, at::kFloat)
      .clone();
}

at::Tensor to_labels(const ImageSet& set) {
  return at::from_blob(const_cast<std::int32_t*>(set.labels.data()), {set.count}, at::kInt)
      .to(at::kLong);
}

double accuracy(Classifier& model, const at::Tensor& x, const at::Tensor& y) {
  torch::NoGradGuard no_grad;
  model->eval();
  std::int64_t correct = 0;
  for (std::int64_t i = 0; i < x.size(0); i += 1000) {
    const auto end = std::min<std::int64_t>(i + 1000, x.size(0));
    correct += model->forward(x.slice(0, i, end))
                   .argmax(1)
                   .eq(y.slice(0, i, end))
                   .sum()
                   .item<std::int64_t>();
  }
  return static_cast<double>(correct) / static_cast<double>(x.size(0));
}

}  // namespace

ClassifierImpl::ClassifierImpl(std::int64_t channels, std::int64_t classes) {
  conv1_ = register_module("conv1",
                           torch::nn::Conv2d(torch::nn::Conv2dOptions(channels, 32, 3).padding(1)));
  conv2_ =
      register_module("conv2", torch::nn::Conv2d(torch::nn::Conv2dOptions(32, 64, 3).padding(1)));
  fc1_ = register_module("fc1", torch::nn::Linear(64 * 4 * 4, kFeatures));
  fc2_ = register_module("fc2", torch::nn::Linear(kFeatures, classes));
}

at::Tensor ClassifierImpl::features(const at::Tensor& x) {
  at::Tensor h = torch::max_pool2d(torch::relu(conv1_->forward(x)), 2);
  h = torch::max_pool2d(torch::relu(conv2_->forward(h)), 2);
  h = torch::adaptive_avg_pool2d(h, {4, 4}).reshape({x.size(0), -1});
  return torch::relu(fc1_->forward(h));
}

at::Tensor ClassifierImpl::forward(const at::Tensor& x) { return fc2_->forward(features(x)); }

std::string default_cache_dir() {
  if (const char* xdg = std::getenv("XDG_CACHE_HOME"); xdg && *xdg)
    return std::string(xdg) + "/lipschitz";
  if (const char* home = std::getenv("HOME"); home && *home)
    return std::string(home) + "/.cache/lipschitz";
  return ".lipschitz-cache";
}

ClassifierInfo load_or_train_classifier(const std::string& data, const std::string& cache_dir,
                                        int epochs) {
  const ImageSet train = load_images(data, Split::train, 64, 1);
  if (train.labels.empty())
    throw DataError(data +
                    ": a classifier needs labelled images (IDX or CIFAR-10); folders "
                    "have none");
  const ImageSet test = load_images(data, Split::test, 64, 1);
  std::int64_t classes = 0;
  for (auto l : train.labels) classes = std::max<std::int64_t>(classes, l + 1);

  ClassifierInfo info;
  info.model = Classifier(train.channels, classes);
  char key[64];
  std::snprintf(key, sizeof key, "%016zx",
                std::hash<std::string>{}(train.source + "|" + std::to_string(train.count) + "|" +
                                         std::to_string(epochs)));
  info.path = cache_dir + "/classifier-" + key + ".pt";
  const at::Tensor x_test = to_tensor(test), y_test = to_labels(test);
  if (::access(info.path.c_str(), R_OK) == 0) {
    try {
      torch::serialize::InputArchive archive;
      archive.load_from(info.path);
      info.model->load(archive);
      info.test_accuracy = accuracy(info.model, x_test, y_test);
      return info;
    } catch (const c10::Error&) {
      // A corrupt cache entry is retrained below and replaced.
    }
    info.model = Classifier(train.channels, classes);
  }
  torch::manual_seed(12345);
  const at::Tensor x = to_tensor(train), y = to_labels(train);
  torch::optim::Adam opt(info.model->parameters(), torch::optim::AdamOptions(1e-3));
  info.model->train();
  const std::int64_t batch = 128;
  for (int e = 0; e < epochs; ++e) {
    const at::Tensor order = torch::randperm(x.size(0), at::kLong);
    for (std::int64_t i = 0; i + batch <= x.size(0); i += batch) {
      const at::Tensor idx = order.slice(0, i, i + batch);
      opt.zero_grad();
      const at::Tensor loss = torch::cross_entropy_loss(info.model->forward(x.index_select(0, idx)),
                                                        y.index_select(0, idx));
      loss.backward();
      opt.step();
    }
  }
  info.test_accuracy = accuracy(info.model, x_test, y_test);
  info.trained_now = true;
  // Caching is an optimisation: a cache that cannot be written costs a retraining next time,
  // not this evaluation.
  try {
    std::filesystem::create_directories(cache_dir);
    torch::serialize::OutputArchive archive;
    info.model->save(archive);
    detail::replace_file(info.path, [&](const std::string& tmp) { archive.save_to(tmp); });
  } catch (const std::exception& e) {
    std::cerr << "lipschitz: warning: cannot cache the classifier in " << cache_dir << " ("
              << e.what() << ")\n";
  }
  return info;
}

}  // namespace lipschitz::gan
