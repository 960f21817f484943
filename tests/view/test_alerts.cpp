// Tests alerts.hpp: each rule fires on synthetic records built to trigger it, stays quiet on
// records just inside its threshold, and new_alerts reports each episode once.
#include <doctest/doctest.h>
#include <view/alerts.hpp>

#include "run_fixture.hpp"

#include <cmath>
#include <limits>
#include <string>
#include <vector>

using namespace lipschitz::view;
using namespace lipschitz::view::testing;

namespace {

const double kNaN = std::numeric_limits<double>::quiet_NaN();

RunConfig config(const std::string& objective = "wgan-gp", const std::string& data = "8gaussians",
                 long long steps = 1000) {
  RunConfig c;
  c.objective = objective;
  c.data = data;
  c.steps = steps;
  c.lambda = 10;
  return c;
}

/// A healthy record at `step`: gradient norm 1, W 0.5 on both sets, three layers with norms
/// 1.5, 1.2, 0.8 and gradient norms 0.05, 0.07, 0.0884.
Record healthy(long long step) {
  Record r;
  r.step = step;
  r.scalars = {{"seconds", step * 0.01},
               {"wasserstein_estimate", 0.5},
               {"heldout_wasserstein_estimate", 0.5},
               {"critic_loss", -0.49},
               {"grad_norm_mean", 1.0},
               {"critic_upper_bound", 1.44}};
  const double norms[3] = {1.5, 1.2, 0.8}, grads[3] = {0.05, 0.07, 0.0884};
  for (int l = 0; l < 3; ++l) {
    LayerStats s;
    s.name = "fc" + std::to_string(l + 1);
    s.spectral_norm = norms[l];
    s.activation_grad_norm = grads[l];
    r.layers.push_back(s);
  }
  return r;
}

void set(Record& r, const std::string& key, double v) {
  for (auto& [k, value] : r.scalars)
    if (k == key) {
      value = v;
      return;
    }
  r.scalars.emplace_back(key, v);
}

/// `n` healthy records every 100 steps, with `edit(record, index)` applied.
template <class Edit>
std::vector<Record> records(int n, Edit edit) {
  std::vector<Record> out;
  for (int i = 0; i < n; ++i) {
    out.push_back(healthy(100LL * i));
    edit(out.back(), i);
  }
  return out;
}

std::vector<Alert> of_kind(const std::vector<Alert>& alerts, AlertKind kind) {
  std::vector<Alert> out;
  for (const Alert& a : alerts)
    if (a.kind == kind) out.push_back(a);
  return out;
}

}  // namespace

TEST_CASE("healthy records raise nothing") {
  const auto recs = records(12, [](Record&, int) {});
  CHECK(detect_alerts(recs, config()).empty());
  CHECK(detect_alerts(recs, config("wgan", "fashion-mnist")).empty());
  CHECK(detect_alerts({}, config()).empty());
}

TEST_CASE("gradient_norm_drift: WGAN-GP's E|grad D| far from 1 for 5 records") {
  const auto recs = records(10, [](Record& r, int i) {
    if (i >= 5) set(r, "grad_norm_mean", i == 7 ? 3.1 : 2.7);
  });
  const auto alerts = of_kind(detect_alerts(recs, config()), AlertKind::kGradientNormDrift);
  REQUIRE(alerts.size() == 1);
  const Alert& a = alerts[0];
  CHECK(a.severity == Severity::kWarning);
  CHECK(a.first_step == 500);
  CHECK(a.last_step == 900);
  CHECK(a.ongoing);
  CHECK(
      a.message ==
      "E‖∇D(x̂)‖ = 2.7 at step 900 (target 1.01 = 1 + W/(2λ·E‖∇D(x̂)‖) under WGAN-GP, λ = 10; "
      "|mean / target − 1| > 0.5 for the last 5 records, steps 500–900; farthest 3.1 at step 700)");
  CHECK(format_alert(a) == "warning  gradient_norm_drift  steps 500–900: " + a.message);

  SUBCASE("4 records are not enough") {
    auto short_run = recs;
    set(short_run[5], "grad_norm_mean", 1.2);
    CHECK(of_kind(detect_alerts(short_run, config()), AlertKind::kGradientNormDrift).empty());
  }
  SUBCASE("within the tolerance") {
    auto near = records(10, [](Record& r, int) { set(r, "grad_norm_mean", 1.45); });
    CHECK(of_kind(detect_alerts(near, config()), AlertKind::kGradientNormDrift).empty());
  }
  SUBCASE("other objectives have no target") {
    CHECK(of_kind(detect_alerts(recs, config("wgan")), AlertKind::kGradientNormDrift).empty());
    CHECK(of_kind(detect_alerts(recs, config("gan")), AlertKind::kGradientNormDrift).empty());
  }
  SUBCASE("an episode that ended says so") {
    auto ended = recs;
    ended.push_back(healthy(1000));
    const auto e = of_kind(detect_alerts(ended, config("wgan-gp", "8gaussians", 1100)),
                           AlertKind::kGradientNormDrift);
    REQUIRE(e.size() == 1);
    CHECK_FALSE(e[0].ongoing);
    CHECK(e[0].message.find("for 5 records, steps 500–900; not since step 1000") !=
          std::string::npos);
    CHECK(format_alert(e[0]).find("steps 500–900 (ended): ") != std::string::npos);
  }
}

TEST_CASE("gradient_norm_drift: low norms during the warm-up are expected") {
  // Steps 0–900 of 10,000: all inside the first 10 %.
  const auto rising =
      records(10, [](Record& r, int i) { set(r, "grad_norm_mean", 0.03 + 0.04 * i); });
  CHECK(of_kind(detect_alerts(rising, config("wgan-gp", "8gaussians", 10000)),
                AlertKind::kGradientNormDrift)
            .empty());
  // The same records in a 1,000-step run: past the warm-up from step 100.
  const auto a = of_kind(detect_alerts(rising, config("wgan-gp", "8gaussians", 1000)),
                         AlertKind::kGradientNormDrift);
  REQUIRE(a.size() == 1);
  CHECK(a[0].first_step == 100);
  SUBCASE("one-sided: only norms above 1 count") {
    RunConfig c = config("wgan-gp", "8gaussians", 1000);
    c.one_sided = true;
    CHECK(of_kind(detect_alerts(rising, c), AlertKind::kGradientNormDrift).empty());
    const auto high = records(6, [](Record& r, int) { set(r, "grad_norm_mean", 1.8); });
    const auto h = of_kind(detect_alerts(high, c), AlertKind::kGradientNormDrift);
    REQUIRE(h.size() == 1);
    CHECK(h[0].message.find("mean / target − 1 > 0.5") != std::string::npos);
  }
}

TEST_CASE("gradient_norm_drift: the target is where the penalty weight holds the norm") {
  Record r = healthy(0);  // W 0.5, mean 1
  CHECK(grad_norm_target(r, 10) == doctest::Approx(1.025));
  CHECK(grad_norm_target(r, 0.1) == doctest::Approx(3.5));
  CHECK(grad_norm_target(r, 0) == 1);
  set(r, "wasserstein_estimate", -0.2);
  CHECK(grad_norm_target(r, 10) == 1);

  // The default demo's setting (λ = 0.1, the paper's toy runs): the penalty holds the mean near
  // 2.4 with W near 0.9, target 1 + 0.9/(0.2·2.4) ≈ 2.9. Not a drift.
  RunConfig c = config("wgan-gp", "8gaussians", 1000);
  c.lambda = 0.1;
  const auto demo = records(10, [](Record& rec, int i) {
    set(rec, "grad_norm_mean", 2.3 + 0.02 * i);
    set(rec, "wasserstein_estimate", 0.95 - 0.01 * i);
  });
  CHECK(of_kind(detect_alerts(demo, c), AlertKind::kGradientNormDrift).empty());
  // An injected blow-up from step 500: the critic scaled by 20 scales W and the mean alike, the
  // target stays near 2.9, and the mean (≈ 48) is far above it.
  auto blown = demo;
  for (int i = 5; i < 10; ++i) {
    set(blown[i], "grad_norm_mean", 20 * blown[i].value("grad_norm_mean"));
    set(blown[i], "wasserstein_estimate", 20 * blown[i].value("wasserstein_estimate"));
  }
  const auto a = of_kind(detect_alerts(blown, c), AlertKind::kGradientNormDrift);
  REQUIRE(a.size() == 1);
  CHECK(a[0].first_step == 500);
  CHECK(a[0].message.find("(target 2.") != std::string::npos);
  // The same mean under λ = 10 (target ≈ 1.02) was a drift before the critic blew up too.
  c.lambda = 10;
  CHECK(of_kind(detect_alerts(demo, c), AlertKind::kGradientNormDrift).size() == 1);
}

TEST_CASE("spectral_norm_growth: a layer above 10x its first value") {
  const auto recs = records(5, [](Record& r, int i) {
    const double fc2[5] = {1.2, 4.8, 8.4, 11.4, 15.6};  // ×9.5 at step 300, ×13 at step 400
    r.layers[1].spectral_norm = fc2[i];
  });
  const auto a = of_kind(detect_alerts(recs, config()), AlertKind::kSpectralNormGrowth);
  REQUIRE(a.size() == 1);
  CHECK(a[0].subject == "fc2");
  CHECK(a[0].first_step == 400);
  CHECK(a[0].message ==
        "σ₁(fc2) = 15.6 at step 400: ×13 its value 1.2 at step 0 (alert above ×10; for the last 1 "
        "record, "
        "step 400)");
  const auto under =
      records(5, [](Record& r, int i) { r.layers[1].spectral_norm = 1.2 * (1 + 2 * i); });
  CHECK(of_kind(detect_alerts(under, config()), AlertKind::kSpectralNormGrowth).empty());
}

TEST_CASE("bound_growth: the certified bound above 100x its first value") {
  const auto recs =
      records(4, [](Record& r, int i) { set(r, "critic_upper_bound", std::pow(10.0, i)); });
  const auto a = of_kind(detect_alerts(recs, config()), AlertKind::kBoundGrowth);
  REQUIRE(a.size() == 1);
  CHECK(a[0].first_step == 300);
  CHECK(a[0].message.rfind(
            "certified bound on Lip(D) = 1000 at step 300: ×1000 its value 1 at step 0", 0) == 0);
  const auto under = records(4, [](Record& r, int i) { set(r, "critic_upper_bound", 1 + 30 * i); });
  CHECK(of_kind(detect_alerts(under, config()), AlertKind::kBoundGrowth).empty());
  SUBCASE("an uncertified critic (LayerNorm) has no bound and raises nothing") {
    auto ln = records(4, [](Record& r, int) {
      set(r, "critic_upper_bound", kNaN);
      r.critic_certified = false;
    });
    CHECK(detect_alerts(ln, config()).empty());
  }
}

TEST_CASE("exploding and vanishing per-layer gradients") {
  SUBCASE("growing toward the input: exploding") {
    const auto recs = records(3, [](Record& r, int i) {
      if (i == 2) r.layers[0].activation_grad_norm = 120.0;  // fc1 120 vs fc2 0.07 … ratio 1714
    });
    const auto alerts = detect_alerts(recs, config("wgan"));
    const auto a = of_kind(alerts, AlertKind::kExplodingGradients);
    REQUIRE(a.size() == 1);
    CHECK(of_kind(alerts, AlertKind::kVanishingGradients).empty());
    CHECK(a[0].first_step == 200);
    CHECK(a[0].message ==
          "per-layer gradient norms grow ×1714 toward the input at step 200: fc1 120 vs fc2 0.07 "
          "(alert above ×1000)");
  }
  SUBCASE("falling toward the input: vanishing") {
    const auto recs = records(3, [](Record& r, int) { r.layers[0].activation_grad_norm = 5e-5; });
    const auto a = of_kind(detect_alerts(recs, config("wgan")), AlertKind::kVanishingGradients);
    REQUIRE(a.size() == 1);
    CHECK(a[0].first_step == 0);
    CHECK(a[0].last_step == 200);
    CHECK(a[0].message.rfind("per-layer gradient norms fall ×1768 toward the input at step 200: "
                             "fc1 5e-5 vs fc3 0.0884",
                             0) == 0);
  }
  SUBCASE("below the floor") {
    const auto recs = records(2, [](Record& r, int) {
      for (auto& l : r.layers) l.activation_grad_norm = 5e-9;
    });
    const auto a = of_kind(detect_alerts(recs, config("gan")), AlertKind::kVanishingGradients);
    REQUIRE(a.size() == 1);
    CHECK(a[0].message.rfind("‖∂L/∂h‖ of fc1 = 5e-9 at step 100 (alert below 1e-8", 0) == 0);
  }
  SUBCASE("a ratio of 900 is within bounds") {
    const auto recs =
        records(3, [](Record& r, int) { r.layers[0].activation_grad_norm = 900 * 0.07; });
    const auto alerts = detect_alerts(recs, config("wgan"));
    CHECK(of_kind(alerts, AlertKind::kExplodingGradients).empty());
    CHECK(of_kind(alerts, AlertKind::kVanishingGradients).empty());
  }
}

TEST_CASE("overfitting: held-out W well below training W for 5 records") {
  const auto recs = records(8, [](Record& r, int i) {
    if (i >= 3) set(r, "heldout_wasserstein_estimate", 0.3);  // gap 0.2 = 40 % of 0.5
  });
  const auto a =
      of_kind(detect_alerts(recs, config("wgan-gp", "fashion-mnist")), AlertKind::kOverfitting);
  REQUIRE(a.size() == 1);
  CHECK(a[0].first_step == 300);
  CHECK(a[0].message ==
        "held-out W estimate 0.3 vs training 0.5 at step 700: gap 0.2 = 40 % of |W| (alert above "
        "20 % for the "
        "last 5 records, steps 300–700)");
  SUBCASE("not on toy data: its held-out batch is another fresh draw") {
    CHECK(of_kind(detect_alerts(recs, config("wgan-gp", "8gaussians")), AlertKind::kOverfitting)
              .empty());
  }
  SUBCASE("four records, a small gap, or held-out above training: nothing") {
    auto four = recs;
    set(four[3], "heldout_wasserstein_estimate", 0.5);
    CHECK(of_kind(detect_alerts(four, config("wgan", "fashion-mnist")), AlertKind::kOverfitting)
              .empty());
    const auto small =
        records(8, [](Record& r, int) { set(r, "heldout_wasserstein_estimate", 0.45); });
    CHECK(of_kind(detect_alerts(small, config("wgan", "fashion-mnist")), AlertKind::kOverfitting)
              .empty());
    const auto above =
        records(8, [](Record& r, int) { set(r, "heldout_wasserstein_estimate", 0.9); });
    CHECK(of_kind(detect_alerts(above, config("wgan", "fashion-mnist")), AlertKind::kOverfitting)
              .empty());
  }
}

TEST_CASE("non_finite: a null anywhere is critical") {
  auto recs = records(4, [](Record&, int) {});
  // As the reader leaves it: NaN values and their keys listed.
  recs[2] = parse_record(record_json(200));
  recs[2].scalars[1].second = kNaN;
  recs[2].non_finite = {"wasserstein_estimate", "fc1.spectral_norm"};
  const auto alerts = detect_alerts(recs, config());
  REQUIRE_FALSE(alerts.empty());
  const Alert& a = alerts.front();  // critical first
  CHECK(a.kind == AlertKind::kNonFinite);
  CHECK(a.severity == Severity::kCritical);
  CHECK(a.first_step == 200);
  CHECK_FALSE(a.ongoing);
  CHECK(a.message ==
        "NaN/Inf (written as null) at step 200: wasserstein_estimate, fc1.spectral_norm");

  SUBCASE("from the file") {
    const Record r = parse_record(
        "{\"step\": 7, \"critic_loss\": null, \"gradient_penalty\": null, \"grad_norm_mean\": null,"
        " \"wasserstein_estimate\": null, \"generator_loss\": null}");
    const auto b = detect_alerts({r}, config());
    REQUIRE(b.size() == 1);
    CHECK(b[0].message ==
          "NaN/Inf (written as null) at step 7: critic_loss, gradient_penalty, grad_norm_mean, "
          "wasserstein_estimate (+1 more)");
    CHECK(b[0].ongoing);
  }
  SUBCASE("a run stopped on NaN (summary.json)") {
    RunData run;
    run.config = config();
    run.records = records(2, [](Record&, int) {});
    run.summary = RunSummary{};
    run.summary->status = "non_finite";
    run.summary->message = "step 3: critic loss nan";
    const auto c = detect_alerts(run);
    REQUIRE(c.size() == 1);
    CHECK(c[0].severity == Severity::kCritical);
    CHECK(c[0].message == "training stopped on a non-finite loss: step 3: critic loss nan");
  }
}

TEST_CASE("new_alerts: each episode once, as records arrive") {
  std::vector<Record> recs;
  std::vector<Alert> shown, printed;
  for (int i = 0; i < 14; ++i) {
    Record r = healthy(100LL * i);
    if ((i >= 2 && i <= 8) || i >= 10) set(r, "grad_norm_mean", 2.5);
    recs.push_back(r);
    const auto now = detect_alerts(recs, config("wgan-gp", "8gaussians", 1400));
    for (const Alert& a : new_alerts(shown, now)) printed.push_back(a);
    shown = now;
  }
  // Episode 1: steps 200–800 (reported when it reached 5 records, at step 600); episode 2:
  // steps 1000–1300 (4 records: not yet).
  REQUIRE(printed.size() == 1);
  CHECK(printed[0].first_step == 200);
  CHECK(printed[0].last_step == 600);
  recs.push_back(healthy(1400));
  set(recs.back(), "grad_norm_mean", 2.5);
  const auto now = detect_alerts(recs, config("wgan-gp", "8gaussians", 1400));
  const auto fresh = new_alerts(shown, now);
  REQUIRE(fresh.size() == 1);
  CHECK(fresh[0].first_step == 1000);
}

TEST_CASE("alert kinds as text") {
  for (AlertKind k :
       {AlertKind::kGradientNormDrift, AlertKind::kSpectralNormGrowth, AlertKind::kBoundGrowth,
        AlertKind::kExplodingGradients, AlertKind::kVanishingGradients, AlertKind::kOverfitting,
        AlertKind::kNonFinite})
    CHECK(alert_kind_from_string(to_string(k)) == k);
  CHECK(to_string(AlertKind::kGradientNormDrift) == "gradient_norm_drift");
  CHECK(to_string(Severity::kCritical) == "critical");
  CHECK_THROWS_WITH_AS(
      alert_kind_from_string("nan"),
      "unknown alert kind 'nan' (gradient_norm_drift, spectral_norm_growth, bound_growth, "
      "exploding_gradients, vanishing_gradients, overfitting, non_finite)",
      std::invalid_argument);
}
