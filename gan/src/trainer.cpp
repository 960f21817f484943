#include <gan/trainer.hpp>

#include <gan/sample_quality.hpp>

#include <lipschitz/averaged_bound.hpp>
#include <lipschitz/conv_norm.hpp>

#include <gan/atomic_file.hpp>

#include <ATen/CPUGeneratorImpl.h>
#include <torch/torch.h>

#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <sstream>

namespace lipschitz::gan {

namespace {

constexpr const char* kCheckpointFormat = "lipschitz-gan-checkpoint-1";

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

Summary summarize(const at::Tensor& values) {
  const at::Tensor v = values.detach().to(at::kCPU, at::kDouble).reshape({-1});
  Summary s;
  if (v.numel() == 0) return s;
  s.mean = v.mean().item<double>();
  s.std = v.numel() > 1 ? v.std().item<double>() : 0.0;
  s.min = v.min().item<double>();
  s.max = v.max().item<double>();
  return s;
}

/// ‖∇ₓ D(x)‖₂ per sample; `create_graph` keeps the graph for the penalty's own gradient
/// (ALGORITHMS.md §8: without it the penalty silently has no gradient).
at::Tensor input_gradient_norms(Critic& critic, const at::Tensor& x, bool create_graph,
                                at::Tensor* scores = nullptr) {
  at::Tensor input = x.detach().requires_grad_(true);
  at::Tensor d = critic->forward(input);
  if (scores) *scores = d;
  const at::Tensor g =
      torch::autograd::grad({d.sum()}, {input}, /*grad_outputs=*/{}, /*retain_graph=*/true,
                            /*create_graph=*/create_graph)[0];
  return g.reshape({g.size(0), -1}).norm(2, 1);
}

std::string first_line(const char* what) {
  std::string s(what);
  const auto nl = s.find('\n');
  return nl == std::string::npos ? s : s.substr(0, nl);
}

std::string serialize(const std::map<std::string, std::string>& map) {
  std::string s;
  for (const auto& [k, v] : map) s += k + '=' + v + '\n';
  return s;
}

std::map<std::string, std::string> deserialize(const std::string& s) {
  std::map<std::string, std::string> map;
  std::istringstream in(s);
  std::string line;
  while (std::getline(in, line)) {
    const auto eq = line.find('=');
    if (eq != std::string::npos) map[line.substr(0, eq)] = line.substr(eq + 1);
  }
  return map;
}

/// The critic's loss without penalty: Goodfellow et al. 2014 with logits (−log σ(D(x)) −
/// log(1 − σ(D(G(z))))) for GAN, E[D(G(z))] − E[D(x)] for the Wasserstein objectives.
at::Tensor critic_objective(Objective o, const at::Tensor& d_real, const at::Tensor& d_fake) {
  if (o == Objective::gan) return torch::softplus(-d_real).mean() + torch::softplus(d_fake).mean();
  return d_fake.mean() - d_real.mean();
}

/// The generator's loss: non-saturating −log σ(D(G(z))) for GAN, −E[D(G(z))] otherwise.
at::Tensor generator_objective(Objective o, const at::Tensor& d_fake) {
  return o == Objective::gan ? torch::softplus(-d_fake).mean() : -d_fake.mean();
}

const TrainOptions& validated(const TrainOptions& o) {
  validate(o);
  return o;
}

std::unique_ptr<torch::optim::Optimizer> make_optimizer(const TrainOptions& o,
                                                        std::vector<at::Tensor> params) {
  if (o.optimizer == OptimizerKind::rmsprop)
    return std::make_unique<torch::optim::RMSprop>(std::move(params),
                                                   torch::optim::RMSpropOptions(o.lr));
  return std::make_unique<torch::optim::Adam>(
      std::move(params), torch::optim::AdamOptions(o.lr).betas({o.beta1, o.beta2}));
}

// An MLP critic (Linear layers only, no LayerNorm) as an affine chain, and its averaged-
// activation bound where below the product (docs/math.md §8.2): 5 ms for the toy models'
// 3 × 128, within monitoring's 1 % budget. ECLipsE's certificate (70 ms there, and looser on
// the default critic) and conv critics' bound on their operators (seconds) are left to
// `lipschitz report`.
void tighten_critic_bound(const std::vector<CriticLayer>& layers, MonitorRecord& r) {
  AffineChain chain;
  for (std::size_t i = 0; i < layers.size(); ++i) {
    const CriticLayer& layer = layers[i];
    if (layer.spec.spatial_dims != 1) return;
    const at::Tensor w = layer.weight.detach().to(at::kCPU, at::kDouble).contiguous();
    chain.weights.push_back(Eigen::Map<const Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic,
                                                           Eigen::RowMajor>>(
        w.data_ptr<double>(), w.size(0), w.size(1)));
    Eigen::VectorXd b = Eigen::VectorXd::Zero(w.size(0));
    if (layer.bias.defined()) {
      const at::Tensor bd = layer.bias.detach().to(at::kCPU, at::kDouble).contiguous();
      b = Eigen::Map<const Eigen::VectorXd>(bd.data_ptr<double>(), bd.numel());
    }
    chain.biases.push_back(std::move(b));
    chain.names.push_back(layer.name);
    if (i + 1 < layers.size()) {
      chain.activations.push_back(layer.negative_slope == 0 ? Activation::relu : Activation::leaky_relu);
      chain.parameters.push_back(layer.negative_slope);
    }
  }
  const double combettes = averaged_activation_bound(chain, global_slopes(chain));
  if (combettes < r.critic_upper_bound) {
    r.critic_upper_bound = combettes;
    r.critic_bound_method = "combettes";
  }
}

}  // namespace

Trainer::Trainer(const TrainOptions& options)
    : options_(validated(options)),  // before the data or the device see them
      data_(DataSource::open(options)),
      device_(options.device),
      train_rng_(at::make_generator<at::CPUGeneratorImpl>(options.seed)),
      monitor_rng_(at::make_generator<at::CPUGeneratorImpl>(options.seed + 0x9e3779b97f4a7c15ULL)) {
  if (device_.is_cuda() && !torch::cuda::is_available())
    throw std::invalid_argument("device " + options_.device +
                                " asked for, but this LibTorch has no CUDA device available");
  if (options_.deterministic) at::globalContext().setDeterministicAlgorithms(true, false);
  // Parameter initialisation draws from LibTorch's global generator: seed it too.
  torch::manual_seed(options_.seed);
  const ModelShape shape = data_.shape(options_.latent_dim);
  critic_ = Critic(options_, shape);
  generator_ = Generator(options_, shape);
  critic_->to(device_);
  generator_->to(device_);
  critic_opt_ = make_optimizer(options_, critic_->parameters());
  generator_opt_ = make_optimizer(options_, generator_->parameters());
}

at::Tensor Trainer::latent(std::int64_t n, at::Generator& generator) const {
  return at::randn({n, options_.latent_dim}, generator, at::kFloat).to(device_);
}

Trainer::CriticLoss Trainer::critic_loss(const at::Tensor& real, const at::Tensor& fake,
                                         at::Generator& rng) {
  // One forward pass over both batches: the critic has no batch-coupled layer (no BatchNorm;
  // LayerNorm is per sample), so this equals two passes, with half the kernel launches and
  // larger GEMMs (measured: bench/README.md).
  const at::Tensor d_both = critic_->forward(at::cat({real, fake}));
  const at::Tensor d_real = d_both.slice(0, 0, real.size(0));
  const at::Tensor d_fake = d_both.slice(0, real.size(0));
  CriticLoss c;
  c.wasserstein = d_real.mean() - d_fake.mean();
  c.penalty = at::zeros({}, d_real.options());
  c.loss = critic_objective(options_.objective, d_real, d_fake);
  if (options_.objective == Objective::wgan_gp) {
    // Gulrajani et al. 2017, Algorithm 1: x̂ = εx + (1 − ε)x̃, ε ~ U[0, 1] per sample.
    std::vector<std::int64_t> eps_shape(static_cast<std::size_t>(real.dim()), 1);
    eps_shape[0] = real.size(0);
    const at::Tensor eps = at::rand(eps_shape, rng, at::kFloat).to(device_);
    const at::Tensor x_hat = eps * real + (1 - eps) * fake;
    const at::Tensor norms = input_gradient_norms(critic_, x_hat, /*create_graph=*/true);
    const at::Tensor excess = options_.one_sided ? torch::clamp_min(norms - 1, 0) : norms - 1;
    c.penalty = options_.lambda * excess.pow(2).mean();
    c.loss = c.loss + c.penalty;
  }
  return c;
}

StepResult Trainer::step() {
  StepResult result;
  const std::int64_t batch = options_.batch_size;
  if (step_ + 1 == options_.inject_nan_at) {
    torch::NoGradGuard no_grad;
    critic_->layers().front().weight.fill_(std::nan(""));
  }
  CriticLoss c;
  for (std::int64_t i = 0; i < options_.critic_iters; ++i) {
    const at::Tensor real = data_.sample(batch, train_rng_).to(device_);
    at::Tensor fake;
    {
      torch::NoGradGuard no_grad;
      fake = fake_batch(batch, train_rng_);
    }
    critic_opt_->zero_grad();
    c = critic_loss(real, fake, train_rng_);
    c.loss.backward();
    critic_opt_->step();
    if (options_.objective == Objective::wgan) {
      // Arjovsky et al. 2017, Algorithm 1: clip to [−c, c] after every critic update.
      torch::NoGradGuard no_grad;
      for (at::Tensor& p : critic_->clipped_parameters()) p.clamp_(-options_.clip, options_.clip);
    }
  }

  // Generator update; the critic's parameters need no gradient here. A fixed generator is
  // not trained: its loss is still measured, on a fresh batch.
  at::Tensor g_loss;
  if (options_.fixed_generator) {
    torch::NoGradGuard no_grad;
    g_loss = generator_objective(options_.objective, critic_->forward(fake_batch(batch, train_rng_)));
  } else {
    for (at::Tensor& p : critic_->parameters()) p.requires_grad_(false);
    generator_opt_->zero_grad();
    const at::Tensor d_fake = critic_->forward(generator_->forward(latent(batch, train_rng_)));
    g_loss = generator_objective(options_.objective, d_fake);
    g_loss.backward();
    generator_opt_->step();
    for (at::Tensor& p : critic_->parameters()) p.requires_grad_(true);
  }
  ++step_;

  result.critic_loss = c.loss.item<double>();
  result.gradient_penalty = c.penalty.item<double>();
  result.wasserstein_estimate = c.wasserstein.item<double>();
  result.generator_loss = g_loss.item<double>();
  // A generator update that turned its parameters NaN shows in the next step's losses; the
  // last step's is caught by parameters_finite() before its checkpoint.
  if (!std::isfinite(result.critic_loss) || !std::isfinite(result.generator_loss)) {
    result.status = StepStatus::non_finite;
    std::ostringstream m;
    m << "step " << step_ << ": critic loss " << result.critic_loss << ", generator loss "
      << result.generator_loss << " (gradient penalty " << result.gradient_penalty
      << ", W estimate " << result.wasserstein_estimate << ")";
    result.message = m.str();
  }
  return result;
}

MonitorRecord Trainer::monitor(bool with_spectra) {
  const auto t0 = std::chrono::steady_clock::now();
  MonitorRecord r;
  r.step = step_;
  r.seconds = train_seconds_;
  const std::int64_t n = options_.monitor_batch;
  const at::Tensor real = data_.sample(n, monitor_rng_).to(device_);
  const at::Tensor held = data_.sample(n, monitor_rng_, /*heldout=*/true).to(device_);
  at::Tensor fake;
  {
    // A train-mode forward updates BatchNorm's running statistics: restore them, so samples
    // and evaluations never depend on the monitoring settings.
    torch::NoGradGuard no_grad;
    std::vector<at::Tensor> buffers = generator_->buffers(), saved;
    for (const at::Tensor& b : buffers) saved.push_back(b.clone());
    fake = fake_batch(n, monitor_rng_);
    for (std::size_t i = 0; i < buffers.size(); ++i) buffers[i].copy_(saved[i]);
  }

  const CriticLoss on_real = critic_loss(real, fake, monitor_rng_);
  r.critic_loss = on_real.loss.item<double>();
  r.gradient_penalty = on_real.penalty.item<double>();
  r.wasserstein_estimate = on_real.wasserstein.item<double>();
  const CriticLoss on_held = critic_loss(held, fake, monitor_rng_);
  r.heldout_critic_loss = on_held.loss.item<double>();
  r.heldout_wasserstein_estimate = on_held.wasserstein.item<double>();

  // Gradient norms of D at real, fake and interpolated points (the penalty's x̂).
  std::vector<std::int64_t> eps_shape(static_cast<std::size_t>(real.dim()), 1);
  eps_shape[0] = n;
  const at::Tensor eps = at::rand(eps_shape, monitor_rng_, at::kFloat).to(device_);
  at::Tensor d_fake;
  r.grad_norm_real = summarize(input_gradient_norms(critic_, real, false));
  r.grad_norm_fake = summarize(input_gradient_norms(critic_, fake, false, &d_fake));
  r.grad_norm_interpolates =
      summarize(input_gradient_norms(critic_, eps * real + (1 - eps) * fake, false));
  r.generator_loss = generator_objective(options_.objective, d_fake).item<double>();

  // Toy mixtures: mode coverage and high-quality share (ALGORITHMS.md §7) over time.
  if (data_.toy() && toy_modes(*data_.toy()).rows() > 0) {
    const at::Tensor samples = generate(kModeSamples, monitor_rng_).to(at::kDouble).contiguous();
    const Eigen::MatrixXd x =
        Eigen::Map<const Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>>(
            samples.data_ptr<double>(), samples.size(0), samples.size(1));
    const ModeCoverage c = mode_coverage(x, toy_modes(*data_.toy()), toy_sigma(*data_.toy()));
    r.has_modes = true;
    r.modes_covered = c.modes_covered;
    r.high_quality_fraction = c.high_quality_fraction;
  }

  // Figure 1b of Gulrajani et al.: ‖∂L/∂h_l‖ for each layer's activation h_l, L the critic loss
  // without penalty, on the concatenated real and fake batch.
  std::vector<at::Tensor> activations;
  const at::Tensor scores = critic_->forward(at::cat({real, fake}), &activations);
  activations.push_back(scores);
  const at::Tensor s_real = scores.slice(0, 0, n), s_fake = scores.slice(0, n);
  const at::Tensor plain_loss = critic_objective(options_.objective, s_real, s_fake);
  const std::vector<at::Tensor> act_grads = torch::autograd::grad({plain_loss}, activations);

  const std::vector<CriticLayer> layers = critic_->layers();
  const auto t_spectra = std::chrono::steady_clock::now();
  r.critic_upper_bound = 1;
  for (std::size_t i = 0; i < layers.size(); ++i) {
    const CriticLayer& layer = layers[i];
    LayerRecord l;
    l.name = layer.name;
    const ConvSpec& spec = layer.spec;
    l.input_shape = shape_string(in_channels(spec), spec.input, spec.spatial_dims);
    l.output_shape = shape_string(out_channels(spec), output_size(spec), spec.spatial_dims);
    if (spec.spatial_dims == 1) {  // a Linear layer: plain feature counts
      l.input_shape = std::to_string(in_channels(spec));
      l.output_shape = std::to_string(out_channels(spec));
    }
    const at::Tensor w = layer.weight.detach();
    l.weight = summarize(w);
    {
      const at::Tensor counts = at::histc(w.to(at::kCPU, at::kDouble), kWeightHistogramBins,
                                          l.weight.min, l.weight.max);
      const at::Tensor c = counts.to(at::kLong).contiguous();
      l.weight_histogram.assign(c.data_ptr<int64_t>(), c.data_ptr<int64_t>() + c.numel());
    }
    if (options_.objective == Objective::wgan)
      l.weight_at_clip =
          (w.abs() >= options_.clip * (1 - 1e-6)).to(at::kDouble).mean().item<double>();
    if (i < act_grads.size()) l.activation_grad_norm = act_grads[i].norm().item<double>();
    if (with_spectra) {
      const at::Tensor wd = w.to(at::kCPU, at::kDouble).contiguous();
      ConvNormOptions engine;
      engine.tolerance = options_.spectral_tolerance;
      engine.threads = options_.threads;
      const ConvNormResult norm = analyze_conv<double>(spec, wd.data_ptr<double>(), engine);
      l.spectral_norm = norm.spectral_norm;
      l.lower_bound = norm.lower_bound;
      l.upper_bound = norm.upper_bound;
      l.exact = norm.exact;
      l.reshaped_weight_norm = reshaped_weight_norm<double>(spec, wd.data_ptr<double>());
      // ALGORITHMS.md §6: ‖D‖ ≤ Π ‖W_l‖ · Lip(σ_l); LayerNorm has no such constant.
      r.critic_upper_bound *= norm.upper_bound * layer.activation_lipschitz;
    }
    if (layer.followed_by_layernorm) r.critic_certified = false;
    r.layers.push_back(std::move(l));
  }
  if (!with_spectra) r.critic_certified = false;
  r.critic_product_bound = r.critic_upper_bound;
  if (with_spectra && r.critic_certified) tighten_critic_bound(layers, r);
  r.spectral_seconds = seconds_since(t_spectra);
  r.monitor_seconds = seconds_since(t0);
  return r;
}

at::Tensor Trainer::fake_batch(std::int64_t n, at::Generator& generator) {
  // Gulrajani et al.'s gan_toy.py, FIXED_GENERATOR: real_data + 1.0 * noise.
  if (options_.fixed_generator) {
    const at::Tensor real = data_.sample(n, generator).to(device_);
    return real + at::randn(real.sizes(), generator, real.options().device(at::kCPU)).to(device_);
  }
  return generator_->forward(latent(n, generator));
}

at::Tensor Trainer::generate(std::int64_t n, at::Generator generator) {
  torch::NoGradGuard no_grad;
  if (options_.fixed_generator) {
    std::vector<at::Tensor> parts;
    for (std::int64_t i = 0; i < n; i += 500)
      parts.push_back(fake_batch(std::min<std::int64_t>(500, n - i), generator).to(at::kCPU));
    return at::cat(parts);
  }
  generator_->eval();
  // In chunks: 10,000 DCGAN images at once would need gigabytes of activations.
  std::vector<at::Tensor> parts;
  for (std::int64_t i = 0; i < n; i += 500)
    parts.push_back(
        generator_->forward(latent(std::min<std::int64_t>(500, n - i), generator)).to(at::kCPU));
  generator_->train();
  return at::cat(parts);
}

bool Trainer::parameters_finite() const {
  std::vector<at::Tensor> all = critic_->parameters();
  for (const auto& p : generator_->parameters()) all.push_back(p);
  for (const auto& p : all)
    if (!at::isfinite(p).all().item<bool>()) return false;
  return true;
}

void Trainer::save_checkpoint(const std::string& path) const {
  if (!parameters_finite())
    throw CheckpointError(path + ": refusing to save a checkpoint with non-finite parameters");
  torch::serialize::OutputArchive root, critic, generator, critic_opt, generator_opt;
  critic_->save(critic);
  generator_->save(generator);
  critic_opt_->save(critic_opt);
  generator_opt_->save(generator_opt);
  root.write("format", c10::IValue(std::string(kCheckpointFormat)));
  root.write("options", c10::IValue(serialize(to_map(options_))));
  root.write("critic", critic);
  root.write("generator", generator);
  root.write("critic_optimizer", critic_opt);
  root.write("generator_optimizer", generator_opt);
  root.write("train_rng", train_rng_.get_state());
  root.write("monitor_rng", monitor_rng_.get_state());
  root.write("step", c10::IValue(step_));
  root.write("train_seconds", c10::IValue(train_seconds_));
  try {
    detail::replace_file(path, [&](const std::string& tmp) { root.save_to(tmp); });
  } catch (const c10::Error& e) {
    throw CheckpointError(path + ": cannot write: " + first_line(e.what_without_backtrace()));
  } catch (const std::runtime_error& e) {
    throw CheckpointError(e.what());
  }
}

TrainOptions Trainer::checkpoint_options(const std::string& path) {
  if (::access(path.c_str(), R_OK) != 0)
    throw CheckpointError(path + ": cannot read: " + std::strerror(errno));
  try {
    torch::serialize::InputArchive root;
    root.load_from(path, c10::Device(c10::kCPU));
    c10::IValue format, options;
    root.read("format", format);
    if (!format.isString() || format.toStringRef() != kCheckpointFormat)
      throw CheckpointError(path + ": not a lipschitz training checkpoint");
    root.read("options", options);
    return options_from_map(deserialize(options.toStringRef()));
  } catch (const CheckpointError&) {
    throw;
  } catch (const c10::Error& e) {
    throw CheckpointError(path + ": not a lipschitz training checkpoint, or corrupt (" +
                          first_line(e.what_without_backtrace()) + ")");
  } catch (const std::exception& e) {
    // Another PyTorch archive (torch.jit.save of some module) fails on our keys this way.
    throw CheckpointError(path + ": not a lipschitz training checkpoint (" + first_line(e.what()) +
                          ")");
  }
}

void Trainer::load_checkpoint(const std::string& path) {
  try {
    torch::serialize::InputArchive root, critic, generator, critic_opt, generator_opt;
    root.load_from(path, device_);
    root.read("critic", critic);
    root.read("generator", generator);
    root.read("critic_optimizer", critic_opt);
    root.read("generator_optimizer", generator_opt);
    critic_->load(critic);
    generator_->load(generator);
    critic_opt_->load(critic_opt);
    generator_opt_->load(generator_opt);
    at::Tensor state;
    root.read("train_rng", state);
    train_rng_.set_state(state.to(at::kCPU));
    root.read("monitor_rng", state);
    monitor_rng_.set_state(state.to(at::kCPU));
    c10::IValue v;
    root.read("step", v);
    step_ = v.toInt();
    root.read("train_seconds", v);
    train_seconds_ = v.toDouble();
  } catch (const c10::Error& e) {
    throw CheckpointError(path + ": cannot restore the run (" +
                          first_line(e.what_without_backtrace()) + ")");
  } catch (const std::exception& e) {
    throw CheckpointError(path + ": cannot restore the run (" + first_line(e.what()) + ")");
  }
}

}  // namespace lipschitz::gan
