// Tests gan/train_options.hpp: defaults, their round trip through text, and validation.

#include <gan/train_options.hpp>

#include <doctest/doctest.h>

using namespace lipschitz::gan;

TEST_CASE("the papers' defaults per objective (ALGORITHMS.md §7)") {
  TrainOptions gp;
  apply_defaults(gp, {});
  CHECK(gp.objective == Objective::wgan_gp);
  CHECK(gp.lambda == 0.1);  // gan_toy.py's value on toy data
  CHECK(TrainOptions{}.lambda == 10);
  CHECK(gp.critic_iters == 5);
  CHECK(gp.lr == 1e-4);
  CHECK(gp.optimizer == OptimizerKind::adam);
  CHECK(gp.latent_dim == 2);
  CHECK_FALSE(gp.generator_batchnorm);

  TrainOptions w;
  w.objective = Objective::wgan;
  apply_defaults(w, {{"objective", "wgan"}});
  CHECK(w.optimizer == OptimizerKind::rmsprop);
  CHECK(w.lr == 5e-5);
  CHECK(w.clip == 0.01);

  TrainOptions lr_set;
  lr_set.objective = Objective::wgan;
  lr_set.lr = 1e-3;
  apply_defaults(lr_set, {{"objective", "wgan"}, {"lr", "0.001"}});
  CHECK(lr_set.lr == 1e-3);  // what the user set wins

  TrainOptions images;
  images.data = "fashion-mnist";
  apply_defaults(images, {{"data", "fashion-mnist"}});
  CHECK(images.architecture == Architecture::dcgan);
  CHECK(images.latent_dim == 128);
  CHECK(images.generator_batchnorm);
  CHECK(images.lambda == 10);  // the paper's value everywhere but on toy data
}

TEST_CASE("options round-trip exactly through text") {
  TrainOptions o;
  o.lr = 0.1 + 0.2;  // not representable in few digits
  o.one_sided = true;
  o.objective = Objective::gan;
  o.data = "/some/dir";
  o.seed = 123456789;
  const TrainOptions back = options_from_map(to_map(o));
  CHECK(to_map(back) == to_map(o));
  CHECK(back.lr == o.lr);
  // Seeds use all 64 bits: the largest survives the checkpoint's text round trip.
  o.seed = ~std::uint64_t{0};
  CHECK(options_from_map(to_map(o)).seed == o.seed);
  CHECK_THROWS_WITH_AS(options_from_map({{"seed", "-1"}}),
                       "seed must be an integer in [0, 2^64): got '-1'", std::invalid_argument);
}

TEST_CASE("bad settings name the field and the value") {
  CHECK_THROWS_WITH_AS(options_from_map({{"objective", "wgan-lp"}}),
                       "objective must be one of gan, wgan, wgan-gp: got 'wgan-lp'",
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(options_from_map({{"steps", "ten"}}), "steps must be an integer: got 'ten'",
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(options_from_map({{"colour", "blue"}}), "unknown training setting 'colour'",
                       std::invalid_argument);
  TrainOptions o;
  o.beta2 = 1;
  CHECK_THROWS_WITH_AS(validate(o), "beta2 must be in [0, 1): got 1", std::invalid_argument);
  o = TrainOptions{};
  o.device = "cudaX";
  CHECK_THROWS_WITH_AS(validate(o), "device must be cpu or cuda[:N]: got 'cudaX'",
                       std::invalid_argument);
  o = TrainOptions{};
  o.batch_size = 1;  // BatchNorm needs two samples per batch
  CHECK_THROWS_WITH_AS(validate(o),
                       "batch-size must be >= 2 with BatchNorm in the generator: got 1",
                       std::invalid_argument);
  o.generator_batchnorm = false;
  CHECK_NOTHROW(validate(o));
  o = TrainOptions{};
  o.architecture = Architecture::dcgan;
  CHECK_THROWS_WITH_AS(validate(o), "model dcgan needs image data: got data '8gaussians'",
                       std::invalid_argument);
}
