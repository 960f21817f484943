#pragma once
/// \file alerts.hpp
/// Stability alerts: rules over a run's monitoring records that flag what docs/monitoring.md
/// describes as unhealthy, each with the numbers that triggered it. docs/view.md gives every
/// rule's reasoning.
///
/// A rule holds over a run of consecutive records (an *episode*); each episode is one Alert with
/// its first and last step, and `ongoing` when it still holds at the latest record. An alert
/// keeps its identity (kind, subject, first step) as records are added, so a trainer that checks
/// after every record prints only what `new_alerts` returns.
///
/// Example:
/// \code
///   const RunData run = read_run("runs/8g");
///   for (const Alert& a : detect_alerts(run.records, run.config)) std::cout << format_alert(a);
/// \endcode

#include <view/run_data.hpp>

#include <string>
#include <vector>

namespace lipschitz::view {

/// WGAN-GP's target for E‖∇D(x̂)‖ at interpolates (Gulrajani et al. 2017, Proposition 1).
inline constexpr double kGradNormTarget = 1.0;
/// Gradient-norm drift: |E‖∇D(x̂)‖ / target − 1| above this (target: grad_norm_target()) …
inline constexpr double kGradNormDriftTolerance = 0.5;
/// … for at least this many consecutive records.
inline constexpr int kGradNormDriftRecords = 5;
/// Before this share of the run's steps a mean *below* 1 − tolerance is expected (the norm
/// rises from near 0 as the critic learns) and not flagged; a mean above 1 + tolerance is.
inline constexpr double kGradNormWarmupFraction = 0.1;
/// A layer's spectral norm above this multiple of its value in the first record.
inline constexpr double kLayerNormGrowthFactor = 10.0;
/// critic_upper_bound above this multiple of its value in the first record.
inline constexpr double kBoundGrowthFactor = 100.0;
/// Largest / smallest per-layer activation-gradient norm (layer_grad_norms) above this.
inline constexpr double kLayerGradRatioLimit = 1e3;
/// Any per-layer activation-gradient norm below this.
inline constexpr double kLayerGradFloor = 1e-8;
/// Overfitting: (W_train − W_held-out) / |W_train| above this …
inline constexpr double kOverfitGapRatio = 0.2;
/// … for at least this many consecutive records …
inline constexpr int kOverfitRecords = 5;
/// … with |W_train| at least this (below it the ratio is noise around a vanishing W).
inline constexpr double kOverfitMinW = 1e-3;

/// What an alert is about.
enum class AlertKind {
  kGradientNormDrift,   ///< WGAN-GP: E‖∇D(x̂)‖ far from 1 for several records
  kSpectralNormGrowth,  ///< a layer's σ₁ grew past kLayerNormGrowthFactor × its first value
  kBoundGrowth,         ///< the certified Lip(D) bound grew past kBoundGrowthFactor × its first
  kExplodingGradients,  ///< layer gradient norms grow by > kLayerGradRatioLimit toward the input
  kVanishingGradients,  ///< … fall by that much toward the input, or one is < kLayerGradFloor
  kOverfitting,         ///< held-out W estimate well below the training one for several records
  kNonFinite,           ///< NaN/Inf in a record, or the run stopped on one
};

/// "gradient_norm_drift", "spectral_norm_growth", "bound_growth", "exploding_gradients",
/// "vanishing_gradients", "overfitting", "non_finite".
std::string to_string(AlertKind kind);
/// The inverse of to_string; throws std::invalid_argument listing the names.
AlertKind alert_kind_from_string(const std::string& name);

/// How bad it is.
enum class Severity {
  kWarning,   ///< training is probably unhealthy; read the numbers
  kCritical,  ///< the numbers are broken (non-finite): the run cannot be trusted past here
};

/// "warning", "critical".
std::string to_string(Severity severity);

/// One episode of one rule.
struct Alert {
  AlertKind kind = AlertKind::kNonFinite;
  Severity severity = Severity::kWarning;
  std::string subject;       ///< the layer for per-layer rules, else empty
  long long first_step = 0;  ///< the first record of the episode
  long long last_step = 0;   ///< its last record
  bool ongoing = false;      ///< it holds at the latest record
  std::string message;       ///< one line with the numbers that triggered it
};

/// Thresholds of the rules; the defaults are the named constants above.
struct AlertOptions {
  double grad_norm_drift_tolerance = kGradNormDriftTolerance;
  int grad_norm_drift_records = kGradNormDriftRecords;  ///< ≥ 1
  double grad_norm_warmup_fraction = kGradNormWarmupFraction;
  double layer_norm_growth_factor = kLayerNormGrowthFactor;
  double bound_growth_factor = kBoundGrowthFactor;
  double layer_grad_ratio_limit = kLayerGradRatioLimit;
  double layer_grad_floor = kLayerGradFloor;
  double overfit_gap_ratio = kOverfitGapRatio;
  int overfit_records = kOverfitRecords;  ///< ≥ 1
  double overfit_min_w = kOverfitMinW;
};

/// Where a WGAN-GP penalty of weight λ holds E‖∇D(x̂)‖ at record `r`: 1 + W/(2λ·E‖∇D(x̂)‖), with
/// W the record's wasserstein_estimate. For D = c·f with ‖∇f‖ = 1 on the interpolates, the
/// critic loss −c·W(f) + λ(c − 1)² is least at c = 1 + W(f)/(2λ), and W(f) = W/c with c the
/// measured mean. 1 where λ, W or the mean is missing or not positive. An injected blow-up
/// (D scaled by s) scales W and the mean alike and leaves the target where it was.
double grad_norm_target(const Record& r, double lambda);

/// Every alert over `records` (in step order), ordered by severity (critical first), then
/// ongoing before ended, then first step. `config` gives the objective (gradient-norm drift
/// applies to wgan-gp only; one-sided penalties flag only norms above 1), the total steps (the
/// warm-up) and the data (the overfitting rule skips toy data, whose held-out batch is just
/// another fresh draw).
std::vector<Alert> detect_alerts(const std::vector<Record>& records, const RunConfig& config,
                                 const AlertOptions& options = {});

/// detect_alerts on the run's records, plus a critical non_finite alert when summary.json says
/// the run stopped on a non-finite loss (with its message).
std::vector<Alert> detect_alerts(const RunData& run, const AlertOptions& options = {});

/// The alerts of `current` that `previous` did not have (same kind, subject and first step).
/// For a trainer that re-checks after each record and prints only what is new.
std::vector<Alert> new_alerts(const std::vector<Alert>& previous,
                              const std::vector<Alert>& current);

/// One line for a terminal: "warning  gradient_norm_drift  steps 100–2700: MESSAGE".
std::string format_alert(const Alert& alert);

}  // namespace lipschitz::view
