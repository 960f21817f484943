// Stability alerts over monitoring records (rules and thresholds: alerts.hpp, docs/view.md).

#include <view/alerts.hpp>

#include <view/axis.hpp>

#include <algorithm>
#include <cmath>
#include <functional>
#include <stdexcept>
#include <tuple>

namespace lipschitz::view {
namespace {

/// A maximal run of consecutive records [first, last] (indices) where a rule holds.
struct Episode {
  std::size_t first;
  std::size_t last;
  std::size_t length() const { return last - first + 1; }
};

std::vector<Episode> episodes(const std::vector<bool>& holds, int min_records) {
  std::vector<Episode> out;
  std::size_t i = 0;
  while (i < holds.size()) {
    if (!holds[i]) {
      ++i;
      continue;
    }
    std::size_t j = i;
    while (j + 1 < holds.size() && holds[j + 1]) ++j;
    if (j - i + 1 >= static_cast<std::size_t>(std::max(min_records, 1))) out.push_back({i, j});
    i = j + 1;
  }
  return out;
}

std::string f3(double v) { return format_number(v, 3); }

std::string steps_text(long long a, long long b) {
  return a == b ? "step " + std::to_string(a)
                : "steps " + std::to_string(a) + "–" + std::to_string(b);
}

Alert make_alert(AlertKind kind, Severity severity, std::string subject,
                 const std::vector<Record>& records, const Episode& e, std::string message) {
  Alert a;
  a.kind = kind;
  a.severity = severity;
  a.subject = std::move(subject);
  a.first_step = records[e.first].step;
  a.last_step = records[e.last].step;
  a.ongoing = e.last + 1 == records.size();
  a.message = std::move(message);
  return a;
}

/// "for the last 5 records (steps 100–500)" or "for 5 records (steps 100–500), not since step 600".
std::string duration_text(const std::vector<Record>& records, const Episode& e) {
  std::string s = e.last + 1 == records.size() ? "for the last " : "for ";
  s += std::to_string(e.length()) + (e.length() == 1 ? " record" : " records");
  s += ", " + steps_text(records[e.first].step, records[e.last].step);
  if (e.last + 1 < records.size())
    s += "; not since step " + std::to_string(records[e.last + 1].step);
  return s;
}

}  // namespace

double grad_norm_target(const Record& r, double lambda) {
  const double g = r.value("grad_norm_mean"), w = r.value("wasserstein_estimate");
  if (!(lambda > 0) || !std::isfinite(w) || !(w > 0) || !std::isfinite(g) || !(g > 0))
    return kGradNormTarget;
  return kGradNormTarget + w / (2 * lambda * g);
}

namespace {

// Rule: WGAN-GP's gradient norm at interpolates far from where the penalty holds it. The
// optimal critic has unit gradient norm between coupled points (Gulrajani et al. 2017,
// Proposition 1), but a penalty of finite weight λ balances it above 1 (grad_norm_target()):
// the paper's λ = 10 keeps it within a few percent of 1, its toy setting's λ = 0.1 at 2–4.
// The tolerance is relative to that target.
void gradient_norm_drift(const std::vector<Record>& records, const RunConfig& config,
                         const AlertOptions& o, std::vector<Alert>& out) {
  if (config.objective != "wgan-gp") return;
  const double tol = o.grad_norm_drift_tolerance;
  const double warmup = o.grad_norm_warmup_fraction * static_cast<double>(config.steps);
  std::vector<bool> holds;
  std::vector<double> target;
  for (const Record& r : records) {
    const double m = r.value("grad_norm_mean"), t = grad_norm_target(r, config.lambda);
    const bool high = std::isfinite(m) && m > t * (1 + tol);
    const bool low = std::isfinite(m) && !config.one_sided && m < t * (1 - tol) &&
                     static_cast<double>(r.step) >= warmup;
    holds.push_back(high || low);
    target.push_back(t);
  }
  for (const Episode& e : episodes(holds, o.grad_norm_drift_records)) {
    const auto off = [&](std::size_t i) {
      return std::abs(records[i].value("grad_norm_mean") / target[i] - 1);
    };
    std::size_t worst = e.first;
    for (std::size_t i = e.first; i <= e.last; ++i)
      if (off(i) > off(worst)) worst = i;
    const Record& last = records[e.last];
    const double t = target[e.last];
    std::string m = "E‖∇D(x̂)‖ = " + f3(last.value("grad_norm_mean")) + " at step " +
                    std::to_string(last.step) + " (target " + f3(t);
    if (t != kGradNormTarget) m += " = 1 + W/(2λ·E‖∇D(x̂)‖)";
    m += " under WGAN-GP";
    if (config.lambda > 0) m += ", λ = " + f3(config.lambda);
    m += std::string("; ") + (config.one_sided ? "mean / target − 1" : "|mean / target − 1|") +
         " > " + f3(tol) + " " + duration_text(records, e);
    if (worst != e.last)
      m += "; farthest " + f3(records[worst].value("grad_norm_mean")) + " at step " +
           std::to_string(records[worst].step);
    m += ")";
    out.push_back(make_alert(AlertKind::kGradientNormDrift, Severity::kWarning, "", records, e, m));
  }
}

/// A quantity's growth over its first finite positive value: one episode per run of records
/// where value / first > factor.
void growth_rule(const std::vector<Record>& records, double factor,
                 const std::function<double(const Record&)>& get, AlertKind kind,
                 const std::string& subject, const std::string& what, std::vector<Alert>& out) {
  double first = kMissing;
  long long first_step = 0;
  std::vector<bool> holds;
  for (const Record& r : records) {
    const double v = get(r);
    if (std::isnan(first) && std::isfinite(v) && v > 0) first = v, first_step = r.step;
    holds.push_back(!std::isnan(first) && std::isfinite(v) && v / first > factor);
  }
  for (const Episode& e : episodes(holds, 1)) {
    std::size_t peak = e.first;
    for (std::size_t i = e.first; i <= e.last; ++i)
      if (get(records[i]) > get(records[peak])) peak = i;
    const double v = get(records[e.last]);
    std::string m = what + " = " + f3(v) + " at step " + std::to_string(records[e.last].step) +
                    ": ×" + f3(v / first) + " its value " + f3(first) + " at step " +
                    std::to_string(first_step) + " (alert above ×" + f3(factor) + "; " +
                    duration_text(records, e);
    if (peak != e.last)
      m += "; peak " + f3(get(records[peak])) + " at step " + std::to_string(records[peak].step);
    m += ")";
    out.push_back(make_alert(kind, Severity::kWarning, subject, records, e, m));
  }
}

void spectral_growth(const std::vector<Record>& records, const AlertOptions& o,
                     std::vector<Alert>& out) {
  std::vector<std::string> names;
  for (const Record& r : records)
    for (const LayerStats& l : r.layers)
      if (std::find(names.begin(), names.end(), l.name) == names.end()) names.push_back(l.name);
  for (const std::string& name : names)
    growth_rule(
        records, o.layer_norm_growth_factor,
        [&name](const Record& r) {
          const LayerStats* l = r.layer(name);
          return l ? l->spectral_norm : kMissing;
        },
        AlertKind::kSpectralNormGrowth, name, "σ₁(" + name + ")", out);
  growth_rule(
      records, o.bound_growth_factor, [](const Record& r) { return r.value("critic_upper_bound"); },
      AlertKind::kBoundGrowth, "", "certified bound on Lip(D)", out);
}

// Rule: per-layer activation gradients (Gulrajani et al. 2017, Figure 1b). Backpropagation
// multiplies by each layer's transposed Jacobian, so a critic whose layers shrink (or grow) the
// gradient shows a geometric fall (or rise) toward the input.
void layer_gradients(const std::vector<Record>& records, const AlertOptions& o,
                     std::vector<Alert>& out) {
  struct Finding {
    bool exploding = false, vanishing = false;
    std::string message;
  };
  std::vector<Finding> findings;
  for (const Record& r : records) {
    Finding f;
    std::vector<const LayerStats*> layers;
    for (const LayerStats& l : r.layers)
      if (std::isfinite(l.activation_grad_norm)) layers.push_back(&l);
    if (layers.size() >= 2) {
      const auto [lo, hi] = std::minmax_element(
          layers.begin(), layers.end(), [](const LayerStats* a, const LayerStats* b) {
            return a->activation_grad_norm < b->activation_grad_norm;
          });
      const double small = (*lo)->activation_grad_norm, large = (*hi)->activation_grad_norm;
      const std::string at = " at step " + std::to_string(r.step);
      if (small < o.layer_grad_floor) {
        f.vanishing = true;
        f.message = "‖∂L/∂h‖ of " + (*lo)->name + " = " + f3(small) + at + " (alert below " +
                    f3(o.layer_grad_floor) + "; largest " + (*hi)->name + " " + f3(large) + ")";
      } else if (large / small > o.layer_grad_ratio_limit) {
        // Layers are listed input to output: the larger one nearer the input means growth
        // toward the input (exploding), nearer the output a fall (vanishing).
        f.exploding = hi < lo;
        f.vanishing = !f.exploding;
        f.message = std::string("per-layer gradient norms ") + (f.exploding ? "grow" : "fall") +
                    " ×" + f3(large / small) + " toward the input" + at + ": " +
                    (f.exploding ? (*hi)->name : (*lo)->name) + " " +
                    f3(f.exploding ? large : small) + " vs " +
                    (f.exploding ? (*lo)->name : (*hi)->name) + " " +
                    f3(f.exploding ? small : large) + " (alert above ×" +
                    f3(o.layer_grad_ratio_limit) + ")";
      }
    }
    findings.push_back(f);
  }
  for (const bool exploding : {true, false}) {
    std::vector<bool> holds;
    for (const Finding& f : findings) holds.push_back(exploding ? f.exploding : f.vanishing);
    for (const Episode& e : episodes(holds, 1)) {
      std::string m = findings[e.last].message;
      if (e.length() > 1 || e.last + 1 < records.size()) m += "; " + duration_text(records, e);
      out.push_back(
          make_alert(exploding ? AlertKind::kExplodingGradients : AlertKind::kVanishingGradients,
                     Severity::kWarning, "", records, e, m));
    }
  }
}

// Rule: the critic scores its training data above held-out data from the same distribution
// (monitoring.md, "Held-out loss: overfitting"; Gulrajani et al. 2017, §5.2 on a small MNIST).
void overfitting(const std::vector<Record>& records, const RunConfig& config, const AlertOptions& o,
                 std::vector<Alert>& out) {
  if (config.is_toy()) return;  // the held-out batch is another fresh draw: the gap is noise
  std::vector<bool> holds;
  for (const Record& r : records) {
    const double w = r.value("wasserstein_estimate"), h = r.value("heldout_wasserstein_estimate");
    holds.push_back(std::isfinite(w) && std::isfinite(h) && std::abs(w) >= o.overfit_min_w &&
                    (w - h) / std::abs(w) > o.overfit_gap_ratio);
  }
  for (const Episode& e : episodes(holds, o.overfit_records)) {
    const Record& r = records[e.last];
    const double w = r.value("wasserstein_estimate"), h = r.value("heldout_wasserstein_estimate");
    const std::string m = "held-out W estimate " + f3(h) + " vs training " + f3(w) + " at step " +
                          std::to_string(r.step) + ": gap " + f3(w - h) + " = " +
                          format_number(100 * (w - h) / std::abs(w), 2) +
                          " % of |W| (alert above " + format_number(100 * o.overfit_gap_ratio, 2) +
                          " % " + duration_text(records, e) + ")";
    out.push_back(make_alert(AlertKind::kOverfitting, Severity::kWarning, "", records, e, m));
  }
}

void non_finite(const std::vector<Record>& records, std::vector<Alert>& out) {
  std::vector<bool> holds;
  for (const Record& r : records) holds.push_back(!r.non_finite.empty());
  for (const Episode& e : episodes(holds, 1)) {
    const Record& first = records[e.first];
    std::string keys;
    const std::size_t shown = std::min<std::size_t>(first.non_finite.size(), 4);
    for (std::size_t i = 0; i < shown; ++i) keys += (i ? ", " : "") + first.non_finite[i];
    if (first.non_finite.size() > shown)
      keys += " (+" + std::to_string(first.non_finite.size() - shown) + " more)";
    std::string m = "NaN/Inf (written as null) at step " + std::to_string(first.step) + ": " + keys;
    if (e.length() > 1) m += "; " + duration_text(records, e);
    out.push_back(make_alert(AlertKind::kNonFinite, Severity::kCritical, "", records, e, m));
  }
}

}  // namespace

std::string to_string(AlertKind kind) {
  switch (kind) {
    case AlertKind::kGradientNormDrift:
      return "gradient_norm_drift";
    case AlertKind::kSpectralNormGrowth:
      return "spectral_norm_growth";
    case AlertKind::kBoundGrowth:
      return "bound_growth";
    case AlertKind::kExplodingGradients:
      return "exploding_gradients";
    case AlertKind::kVanishingGradients:
      return "vanishing_gradients";
    case AlertKind::kOverfitting:
      return "overfitting";
    case AlertKind::kNonFinite:
      return "non_finite";
  }
  return "unknown";
}

AlertKind alert_kind_from_string(const std::string& name) {
  for (AlertKind k :
       {AlertKind::kGradientNormDrift, AlertKind::kSpectralNormGrowth, AlertKind::kBoundGrowth,
        AlertKind::kExplodingGradients, AlertKind::kVanishingGradients, AlertKind::kOverfitting,
        AlertKind::kNonFinite})
    if (to_string(k) == name) return k;
  throw std::invalid_argument("unknown alert kind '" + name +
                              "' (gradient_norm_drift, spectral_norm_growth, bound_growth, "
                              "exploding_gradients, vanishing_gradients, overfitting, non_finite)");
}

std::string to_string(Severity severity) {
  return severity == Severity::kCritical ? "critical" : "warning";
}

std::vector<Alert> detect_alerts(const std::vector<Record>& records, const RunConfig& config,
                                 const AlertOptions& options) {
  std::vector<Alert> out;
  if (records.empty()) return out;
  non_finite(records, out);
  gradient_norm_drift(records, config, options, out);
  spectral_growth(records, options, out);
  layer_gradients(records, options, out);
  overfitting(records, config, options, out);
  std::stable_sort(out.begin(), out.end(), [](const Alert& a, const Alert& b) {
    return std::make_tuple(a.severity != Severity::kCritical, !a.ongoing, a.first_step) <
           std::make_tuple(b.severity != Severity::kCritical, !b.ongoing, b.first_step);
  });
  return out;
}

std::vector<Alert> detect_alerts(const RunData& run, const AlertOptions& options) {
  std::vector<Alert> out = detect_alerts(run.records, run.config, options);
  if (run.summary && run.summary->status == "non_finite") {
    Alert a;
    a.kind = AlertKind::kNonFinite;
    a.severity = Severity::kCritical;
    a.first_step = a.last_step = run.records.empty() ? 0 : run.records.back().step;
    a.ongoing = true;
    a.message = "training stopped on a non-finite loss" +
                (run.summary->message.empty() ? std::string() : ": " + run.summary->message);
    out.insert(out.begin(), a);
  }
  return out;
}

std::vector<Alert> new_alerts(const std::vector<Alert>& previous,
                              const std::vector<Alert>& current) {
  std::vector<Alert> out;
  for (const Alert& a : current) {
    const bool seen = std::any_of(previous.begin(), previous.end(), [&](const Alert& p) {
      return p.kind == a.kind && p.subject == a.subject && p.first_step == a.first_step;
    });
    if (!seen) out.push_back(a);
  }
  return out;
}

std::string format_alert(const Alert& a) {
  return to_string(a.severity) + "  " + to_string(a.kind) + "  " +
         steps_text(a.first_step, a.last_step) + (a.ongoing ? "" : " (ended)") + ": " + a.message;
}

}  // namespace lipschitz::view
