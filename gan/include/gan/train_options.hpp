#pragma once
/// \file train_options.hpp
/// Every setting of a training run, with the papers' defaults (ALGORITHMS.md §7), and its
/// round trip through text (the run directory's config and the checkpoint hold it).

#include <cstdint>
#include <map>
#include <string>

namespace lipschitz::gan {

/// The training objective.
enum class Objective {
  gan,     ///< Goodfellow et al. 2014, non-saturating generator loss −E[log D(G(z))]
  wgan,    ///< Arjovsky et al. 2017: weight clipping to [−c, c], RMSProp
  wgan_gp  ///< Gulrajani et al. 2017: gradient penalty λ E[(‖∇D(x̂)‖ − 1)²], Adam
};
std::string to_string(Objective objective);
/// Parses "gan", "wgan" or "wgan-gp"; std::invalid_argument listing the choices otherwise.
Objective objective_from_string(const std::string& text);

/// The models' family.
enum class Architecture {
  mlp,   ///< fully connected ReLU networks (the paper's toy models; images are flattened)
  dcgan  ///< strided convolutions (critic) and transposed convolutions (generator), for images
};
std::string to_string(Architecture architecture);
Architecture architecture_from_string(const std::string& text);

/// Normalisation inside the critic. BatchNorm is not offered: it breaks the per-sample gradient
/// penalty (Gulrajani et al. 2017 §4).
enum class CriticNorm {
  none,      ///< nothing between a linear map and its activation
  layernorm  ///< LayerNorm over each hidden layer's features (the WGAN-GP paper's choice)
};
std::string to_string(CriticNorm norm);
CriticNorm critic_norm_from_string(const std::string& text);

/// The optimiser of both networks.
enum class OptimizerKind {
  adam,    ///< Adam(lr, (beta1, beta2)): GAN and WGAN-GP
  rmsprop  ///< RMSProp(lr): WGAN with clipping, as Arjovsky et al. recommend
};
std::string to_string(OptimizerKind kind);
OptimizerKind optimizer_from_string(const std::string& text);

/// Everything that defines a run. Defaults reproduce WGAN-GP on 8 Gaussians with the paper's
/// toy models (ALGORITHMS.md §7); `apply_objective_defaults` switches to the papers' settings of
/// the other objectives for fields the user did not set.
struct TrainOptions {
  // Data
  std::string data = "8gaussians";  ///< 8gaussians | 25gaussians | swissroll | fashion-mnist |
                                    ///< mnist | a directory (IDX, CIFAR-10 binary, images)
  std::int64_t image_size = 0;      ///< images: side in pixels; 0 = the data set's own size
  std::int64_t channels = 0;        ///< images from a folder: 1 or 3; 0 = 3 for folders
  double heldout_fraction = 0.1;    ///< folders only: share held out (IDX/CIFAR use their test set)

  // Objective
  Objective objective = Objective::wgan_gp;
  double lambda = 10;             ///< gradient-penalty weight λ (WGAN-GP)
  bool one_sided = false;         ///< penalise only max(0, ‖∇D‖ − 1)²
  double clip = 0.01;             ///< WGAN weight clipping bound c
  std::int64_t critic_iters = 5;  ///< critic updates per generator update (n_critic)

  // Optimisation
  OptimizerKind optimizer = OptimizerKind::adam;
  double lr = 1e-4;    ///< learning rate of both networks
  double beta1 = 0.5;  ///< Adam β₁ (the paper's released toy and MNIST code)
  double beta2 = 0.9;  ///< Adam β₂
  std::int64_t batch_size = 256;
  std::int64_t steps = 10000;  ///< generator updates (images: 2000 unless set)

  // Models
  Architecture architecture = Architecture::mlp;
  std::int64_t width = 128;     ///< MLP: hidden units; DCGAN: channels of the first layer (64)
  std::int64_t depth = 3;       ///< MLP: hidden layers (Figure 1b uses 12); DCGAN: from size
  std::int64_t latent_dim = 2;  ///< toy data: 2 (the paper's); images: 128 unless set
  CriticNorm critic_norm = CriticNorm::none;
  bool generator_batchnorm = true;  ///< BatchNorm in the generator (images; MLP on toy: off)
  /// The "generator" is the real data plus N(0, 1) noise and is not trained: only the critic
  /// learns (the WGAN-GP paper's FIXED_GENERATOR, used for its Figure 1a value surfaces).
  bool fixed_generator = false;

  // Monitoring and output
  std::int64_t monitor_every = 200;      ///< steps between monitoring records (0: never)
  std::int64_t sample_every = 2000;      ///< steps between sample PNGs (0: only at the end)
  std::int64_t checkpoint_every = 1000;  ///< steps between checkpoints (and always at the end)
  std::int64_t monitor_batch = 256;      ///< samples used by the monitoring statistics
  double spectral_tolerance = 1e-4;      ///< relative width of each layer's certified interval

  // Execution
  std::uint64_t seed = 0;
  int threads = 0;  ///< intra-op threads of LibTorch and the engine; 0: all cores
  std::string device = "cpu";
  bool deterministic = false;       ///< deterministic kernels (bit-for-bit resume on any device)
  std::int64_t inject_nan_at = -1;  ///< testing: poison the critic before this step (−1: never)
};

/// Settings the papers pair with each objective, applied to every field not in `explicitly_set`
/// (field names as in `to_map`): WGAN → RMSProp, lr 5e-5, c = 0.01; GAN → Adam 2e-4, (0.5, 0.999),
/// n_critic = 1; images → DCGAN, latent 128, width 64.
void apply_defaults(TrainOptions& options,
                    const std::map<std::string, std::string>& explicitly_set);

/// Field name → value as text (round-trips exactly: doubles with 17 digits).
std::map<std::string, std::string> to_map(const TrainOptions& options);
/// The inverse of to_map; unknown or malformed fields throw std::invalid_argument naming them.
TrainOptions options_from_map(const std::map<std::string, std::string>& map);

/// Checks ranges (positive sizes, 0 < lr, 0 ≤ β < 1, …); std::invalid_argument naming the field.
void validate(const TrainOptions& options);

}  // namespace lipschitz::gan
