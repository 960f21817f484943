#pragma once
/// \file monitor_record.hpp
/// What the trainer measures every `monitor_every` steps (docs/monitoring.md explains how to
/// read each field). Plain data: no LibTorch, so readers and writers of the log stay light.

#include <cstdint>
#include <string>
#include <vector>

namespace lipschitz::gan {

/// Mean, standard deviation, minimum and maximum of a set of values.
struct Summary {
  double mean = 0, std = 0, min = 0, max = 0;
};

/// One critic layer at one step.
struct LayerRecord {
  std::string name;         ///< "fc1", "conv2", …
  std::string input_shape;  ///< e.g. "64x14x14"
  std::string output_shape;
  double spectral_norm = 0;  ///< the engine's value at this layer's real input size
  double lower_bound = 0;    ///< certified interval around it
  double upper_bound = 0;
  bool exact = false;               ///< interval narrower than the requested tolerance
  double reshaped_weight_norm = 0;  ///< what torch.nn.utils.spectral_norm would report
  double activation_grad_norm = 0;  ///< ‖∂(critic loss)/∂(this layer's activation)‖ (Fig. 1b)
  Summary weight;                   ///< weight entries
  /// Counts of the weight entries in kWeightHistogramBins equal bins from weight.min to
  /// weight.max (Figure 1b's histograms; docs/view.md draws them).
  std::vector<std::int64_t> weight_histogram;
  double weight_at_clip = 0;        ///< WGAN: share of weights with |w| ≥ (1 − 1e-6)·c
};

/// Bins of each layer's weight histogram.
constexpr std::int64_t kWeightHistogramBins = 40;

/// Samples the monitor generates to measure mode coverage (the literature's 2,500).
constexpr std::int64_t kModeSamples = 2500;

/// Everything logged at one step.
struct MonitorRecord {
  std::int64_t step = 0;            ///< generator updates done
  double seconds = 0;               ///< training wall time so far (monitoring excluded)
  double wasserstein_estimate = 0;  ///< E[D(real)] − E[D(fake)] on a fresh monitoring batch
  double critic_loss = 0;           ///< the objective's critic loss (penalty included)
  double gradient_penalty = 0;      ///< λ·E[(‖∇D(x̂)‖ − 1)²] (0 unless WGAN-GP)
  double generator_loss = 0;
  Summary grad_norm_interpolates;  ///< ‖∇ₓD‖ at x̂ = εx + (1−ε)x̃
  Summary grad_norm_real;
  Summary grad_norm_fake;
  double heldout_critic_loss = 0;  ///< critic loss on held-out real data
  double heldout_wasserstein_estimate = 0;
  bool has_modes = false;            ///< toy mixtures: the two fields below are measured
  int modes_covered = 0;             ///< on kModeSamples generated samples (VEEGAN / PacGAN)
  double high_quality_fraction = 0;  ///< share within 3σ of the nearest mode
  std::vector<LayerRecord> layers;
  /// The tightest certified bound on Lip(D) that fits monitoring's budget: for MLP critics
  /// the averaged-activation composition (docs/math.md §8.2), else the product.
  double critic_upper_bound = 0;
  double critic_product_bound = 0;  ///< product of the layers' certified upper bounds (§6)
  std::string critic_bound_method = "product";  ///< which bound critic_upper_bound is
  bool critic_certified = true;   ///< false when a layer (LayerNorm) has no Lipschitz constant
  double spectral_seconds = 0;    ///< time the engine took for this record
  double monitor_seconds = 0;     ///< time this whole record took
};

}  // namespace lipschitz::gan
