#include <gan/classifier.hpp>
#include <gan/evaluation.hpp>
#include <gan/trainer.hpp>

#include <ATen/CPUGeneratorImpl.h>
#include <torch/torch.h>

#include <chrono>

namespace lipschitz::gan {

namespace {

Eigen::MatrixXd to_eigen(const at::Tensor& t) {
  const at::Tensor c = t.to(at::kCPU, at::kDouble).contiguous().reshape({t.size(0), -1});
  return Eigen::Map<const Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>>(
      c.data_ptr<double>(), c.size(0), c.size(1));
}

/// Features and class probabilities of `images` under the classifier, in chunks.
void classify(Classifier& model, const at::Tensor& images, Eigen::MatrixXd* features,
              Eigen::MatrixXd* probabilities) {
  torch::NoGradGuard no_grad;
  model->eval();
  std::vector<at::Tensor> f, p;
  for (std::int64_t i = 0; i < images.size(0); i += 500) {
    const at::Tensor x = images.slice(0, i, std::min<std::int64_t>(i + 500, images.size(0)));
    const at::Tensor h = model->features(x);
    f.push_back(h);
    p.push_back(torch::softmax(model->forward(x).to(at::kDouble), 1));
  }
  *features = to_eigen(at::cat(f));
  *probabilities = to_eigen(at::cat(p));
}

}  // namespace

EvalResult evaluate_run(const std::string& run_dir, const EvalOptions& options) {
  const auto t0 = std::chrono::steady_clock::now();
  const std::string checkpoint = run_dir + "/checkpoint.pt";
  TrainOptions train_options = Trainer::checkpoint_options(checkpoint);
  train_options.device = "cpu";
  Trainer trainer(train_options);
  trainer.load_checkpoint(checkpoint);

  EvalResult r;
  r.data = train_options.data;
  r.step = trainer.steps_done();
  const bool toy = trainer.data().toy().has_value();
  r.samples = options.samples > 0 ? options.samples : (toy ? 2500 : 10000);
  at::Generator rng = at::make_generator<at::CPUGeneratorImpl>(options.seed);
  const at::Tensor fake = trainer.generate(r.samples, rng);

  if (toy) {
    const ToySet set = *trainer.data().toy();
    const Eigen::MatrixXd generated = to_eigen(fake);
    const Eigen::MatrixXd modes = toy_modes(set);
    if (modes.rows() > 0) {
      r.has_modes = true;
      r.modes = mode_coverage(generated, modes, toy_sigma(set));
    }
    const Eigen::MatrixXd real_a = to_eigen(sample_toy(set, r.samples, rng));
    const Eigen::MatrixXd real_b = to_eigen(sample_toy(set, r.samples, rng));
    r.has_sliced_wasserstein = true;
    r.sliced_wasserstein = sliced_wasserstein(generated, real_a, 256, options.seed);
    r.sliced_wasserstein_data = sliced_wasserstein(real_b, real_a, 256, options.seed);
  } else {
    const ClassifierInfo classifier = load_or_train_classifier(
        train_options.data, options.cache_dir.empty() ? default_cache_dir() : options.cache_dir);
    r.has_classifier = true;
    r.classifier_accuracy = classifier.test_accuracy;
    r.classifier_path = classifier.path;
    Classifier model = classifier.model;
    const std::int64_t n = r.samples;
    const at::Tensor test = trainer.data().sample(n, rng, /*heldout=*/true);
    const at::Tensor train = trainer.data().sample(n, rng);
    Eigen::MatrixXd f_fake, p_fake, f_test, p_test, f_train, p_train;
    classify(model, fake, &f_fake, &p_fake);
    classify(model, test, &f_test, &p_test);
    classify(model, train, &f_train, &p_train);
    const Moments m_test = moments(f_test);
    r.frechet_distance = frechet_distance(moments(f_fake), m_test);
    r.frechet_distance_data = frechet_distance(moments(f_train), m_test);
    const int splits = n % 10 == 0 ? 10 : 1;  // Salimans et al. 2016 average over 10 splits
    r.inception_score = inception_score(p_fake, splits);
    r.inception_score_data = inception_score(p_test, splits);
  }
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return r;
}

}  // namespace lipschitz::gan
