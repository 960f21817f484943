// Tests gan/trainer.hpp and gan/training_run.hpp: small seeded CPU runs with bounded steps that
// assert something was learned or kept, not just that the code ran (STYLE.md).

#include <gan/sample_quality.hpp>
#include <gan/toy_data.hpp>
#include <gan/trainer.hpp>
#include <gan/training_run.hpp>

#include <ATen/CPUGeneratorImpl.h>
#include <torch/torch.h>

#include <doctest/doctest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>

using namespace lipschitz::gan;

namespace {

TrainOptions tiny(Objective objective) {
  TrainOptions o;
  o.objective = objective;
  o.width = 32;
  o.depth = 2;
  o.batch_size = 64;
  o.monitor_batch = 64;
  o.threads = 1;
  o.seed = 3;
  o.lambda = 10;  // the paper's Algorithm 1 value (toy data would default to 0.1)
  apply_defaults(o, {{"width", "32"}, {"depth", "2"}, {"batch_size", "64"}, {"lambda", "10"}});
  return o;
}

std::string temp_dir(const std::string& name) {
  std::random_device rd;
  const std::string dir = "/tmp/lipschitz-test-" + name + "-" + std::to_string(rd());
  std::filesystem::remove_all(dir);
  return dir;
}

std::vector<at::Tensor> parameters_of(Trainer& t) {
  std::vector<at::Tensor> p = t.critic()->parameters();
  for (auto& g : t.generator()->parameters()) p.push_back(g);
  return p;
}

}  // namespace

TEST_CASE("the gradient penalty reaches the critic's parameters (create_graph, §8)") {
  at::set_num_threads(1);
  TrainOptions with = tiny(Objective::wgan_gp), without = with;
  without.lambda = 0;
  Trainer a(with), b(without);
  // Same seed: identical initial parameters and batches; only λ differs.
  a.step();
  b.step();
  double diff = 0;
  auto pa = a.critic()->parameters(), pb = b.critic()->parameters();
  for (std::size_t i = 0; i < pa.size(); ++i) diff += (pa[i] - pb[i]).abs().sum().item<double>();
  INFO("sum |theta(lambda=10) - theta(lambda=0)| = " << diff);
  CHECK(diff > 1e-3);
}

TEST_CASE("WGAN-GP pulls the critic's gradient norm at interpolates toward 1") {
  at::set_num_threads(1);
  TrainOptions o = tiny(Objective::wgan_gp);
  o.lr = 1e-3;
  Trainer t(o);
  const MonitorRecord before = t.monitor(false);
  for (int i = 0; i < 60; ++i) REQUIRE(t.step().status == StepStatus::ok);
  const MonitorRecord after = t.monitor(false);
  const double e0 = std::abs(before.grad_norm_interpolates.mean - 1);
  const double e1 = std::abs(after.grad_norm_interpolates.mean - 1);
  INFO("|E||grad|| - 1| before " << e0 << ", after 60 steps " << e1);
  CHECK(e0 > 0.5);  // PyTorch's initialisation gives a flat critic
  CHECK(e1 < 0.25);
  CHECK(e1 < e0 / 3);
  // The critic separates real from fake: the W estimate is positive.
  CHECK(after.wasserstein_estimate > 0);
}

TEST_CASE("WGAN weight clipping keeps every clipped parameter in [-c, c]") {
  at::set_num_threads(1);
  TrainOptions o = tiny(Objective::wgan);
  o.clip = 0.01;
  o.lr = 1e-2;  // large steps push weights against the bound
  Trainer t(o);
  for (int i = 0; i < 5; ++i) REQUIRE(t.step().status == StepStatus::ok);
  std::int64_t at_bound = 0, total = 0;
  for (const at::Tensor& p : t.critic()->clipped_parameters()) {
    CHECK(p.abs().max().item<double>() <= o.clip);
    at_bound += (p.abs() >= o.clip * (1 - 1e-6)).sum().item<std::int64_t>();
    total += p.numel();
  }
  INFO(at_bound << " of " << total << " at +-c");
  CHECK(at_bound > total / 10);
  const MonitorRecord r = t.monitor(false);
  CHECK(r.layers.front().weight_at_clip > 0.1);
  CHECK(r.layers.front().weight.max <= o.clip);
}

TEST_CASE("the monitor's layer geometry matches the critic's real activations") {
  at::set_num_threads(1);
  TrainOptions o = tiny(Objective::wgan_gp);
  Trainer t(o);
  const MonitorRecord r = t.monitor(true);
  const auto layers = t.critic()->layers();
  REQUIRE(r.layers.size() == layers.size());
  double product = 1;
  for (std::size_t i = 0; i < layers.size(); ++i) {
    // A Linear layer's norm is the matrix 2-norm: compare with LibTorch's own SVD.
    const double truth =
        at::linalg_matrix_norm(layers[i].weight.detach().to(at::kDouble), 2).item<double>();
    INFO(layers[i].name << ": engine [" << r.layers[i].lower_bound << ", "
                        << r.layers[i].upper_bound << "], torch " << truth);
    CHECK(r.layers[i].lower_bound <= truth * (1 + 1e-12));
    CHECK(r.layers[i].upper_bound >= truth * (1 - 1e-12));
    CHECK(r.layers[i].upper_bound - r.layers[i].lower_bound <= o.spectral_tolerance * truth * 1.01);
    product *= r.layers[i].upper_bound;
  }
  CHECK(r.critic_certified);
  CHECK(r.critic_product_bound == doctest::Approx(product).epsilon(1e-12));
  // An MLP critic gets the averaged-activation bound (tested against dense references in
  // tests/lipschitz), never above the product.
  CHECK(r.critic_bound_method == "combettes");
  CHECK(r.critic_upper_bound <= r.critic_product_bound);
  // The bounds hold for the gradient norms the monitor measured.
  CHECK(r.grad_norm_real.max <= r.critic_upper_bound);
  CHECK(r.grad_norm_interpolates.max <= r.critic_upper_bound);
  CHECK(r.grad_norm_fake.max <= r.critic_upper_bound);
}

TEST_CASE("resume continues bit-for-bit like an uninterrupted run (deterministic mode)") {
  at::set_num_threads(1);
  TrainOptions o = tiny(Objective::wgan_gp);
  o.deterministic = true;
  o.steps = 6;
  o.checkpoint_every = 3;
  o.monitor_every = 2;
  o.sample_every = 0;
  const std::string straight = temp_dir("straight"), split = temp_dir("split");
  RunOptions run;
  run.out_dir = straight;
  REQUIRE(start_training(o, run).status == RunStatus::completed);
  o.steps = 3;
  run.out_dir = split;
  REQUIRE(start_training(o, run).status == RunStatus::completed);
  REQUIRE(resume_training(run, 6).status == RunStatus::completed);

  o.steps = 6;
  Trainer a(o), b(o);
  a.load_checkpoint(straight + "/checkpoint.pt");
  b.load_checkpoint(split + "/checkpoint.pt");
  CHECK(a.steps_done() == 6);
  CHECK(b.steps_done() == 6);
  auto pa = parameters_of(a), pb = parameters_of(b);
  for (std::size_t i = 0; i < pa.size(); ++i) CHECK(torch::equal(pa[i], pb[i]));
  // One more step from each: optimiser state and random streams were restored too.
  a.step();
  b.step();
  pa = parameters_of(a);
  pb = parameters_of(b);
  for (std::size_t i = 0; i < pa.size(); ++i) CHECK(torch::equal(pa[i], pb[i]));
  // The resumed log has each step once, in order.
  std::ifstream log(split + "/metrics.jsonl");
  std::string line;
  std::vector<std::string> steps;
  while (std::getline(log, line)) steps.push_back(line.substr(0, line.find(',')));
  CHECK(steps ==
        std::vector<std::string>{"{\"step\": 0", "{\"step\": 2", "{\"step\": 4", "{\"step\": 6"});
  std::filesystem::remove_all(straight);
  std::filesystem::remove_all(split);
}

TEST_CASE("NaN in the critic stops the run and keeps the last good checkpoint") {
  at::set_num_threads(1);
  TrainOptions o = tiny(Objective::wgan_gp);
  o.steps = 10;
  o.checkpoint_every = 2;
  o.monitor_every = 0;
  o.inject_nan_at = 4;
  const std::string dir = temp_dir("nan");
  RunOptions run;
  run.out_dir = dir;
  const RunSummary s = start_training(o, run);
  CHECK(s.status == RunStatus::non_finite);
  CHECK(s.steps == 4);
  CHECK(s.message.find("step 4: critic loss nan") != std::string::npos);
  CHECK(s.message.find("checkpoint.pt (step 2)") != std::string::npos);
  o.inject_nan_at = -1;
  Trainer t(o);
  t.load_checkpoint(dir + "/checkpoint.pt");
  CHECK(t.steps_done() == 2);
  for (const auto& p : parameters_of(t)) CHECK(at::isfinite(p).all().item<bool>());
  std::filesystem::remove_all(dir);
}

TEST_CASE("a run directory is never overwritten; bad checkpoints give clear errors") {
  at::set_num_threads(1);
  TrainOptions o = tiny(Objective::wgan_gp);
  o.steps = 1;
  const std::string dir = temp_dir("exists");
  RunOptions run;
  run.out_dir = dir;
  start_training(o, run);
  CHECK_THROWS_WITH_AS(start_training(o, run),
                       (dir + ": already holds a run; use --resume to continue it or choose "
                              "another --out (nothing was changed)")
                           .c_str(),
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(Trainer::checkpoint_options(dir + "/missing.pt"),
                       (dir + "/missing.pt: cannot read: No such file or directory").c_str(),
                       CheckpointError);
  std::ofstream(dir + "/garbage.pt") << "not a checkpoint";
  CHECK_THROWS_AS(Trainer::checkpoint_options(dir + "/garbage.pt"), CheckpointError);
  // A truncated checkpoint (a crash mid-write without the atomic rename) is refused too.
  {
    std::ifstream in(dir + "/checkpoint.pt", std::ios::binary);
    std::string bytes((std::istreambuf_iterator<char>(in)), {});
    std::ofstream(dir + "/truncated.pt", std::ios::binary) << bytes.substr(0, bytes.size() / 2);
  }
  CHECK_THROWS_AS(Trainer::checkpoint_options(dir + "/truncated.pt"), CheckpointError);
  std::filesystem::remove_all(dir);
}

TEST_CASE("toy data are the paper's mixtures") {
  at::Generator rng = at::make_generator<at::CPUGeneratorImpl>(1);
  for (ToySet set : {ToySet::eight_gaussians, ToySet::twentyfive_gaussians}) {
    const at::Tensor x = sample_toy(set, 2500, rng).to(at::kDouble).contiguous();
    Eigen::MatrixXd m = Eigen::Map<const Eigen::Matrix<double, -1, -1, Eigen::RowMajor>>(
        x.data_ptr<double>(), 2500, 2);
    const ModeCoverage c = mode_coverage(m, toy_modes(set), toy_sigma(set));
    INFO(to_string(set) << ": HQ " << c.high_quality_fraction);
    CHECK(c.modes_covered == c.modes_total);
    // Within 3σ in both coordinates of a 2-D Gaussian: 1 − e^{−4.5} ≈ 98.9 %.
    CHECK(c.high_quality_fraction > 0.97);
  }
  CHECK(toy_modes(ToySet::eight_gaussians).rows() == 8);
  CHECK(toy_modes(ToySet::twentyfive_gaussians).rows() == 25);
  const at::Tensor roll = sample_toy(ToySet::swissroll, 1000, rng);
  CHECK(roll.abs().max().item<double>() < 2.5);
}
