// path_bound.hpp: the averaged bound on the layers' operators against the same bound on the
// dense chain (affine_chain.hpp, averaged_bound.hpp), sampled Jacobians and the product.

#include <lipschitz/path_bound.hpp>

#include <lipschitz/affine_chain.hpp>
#include <lipschitz/averaged_bound.hpp>

#include "network_fixtures.hpp"
#include "random_chain.hpp"

#include <doctest/doctest.h>

using namespace lipschitz;
using namespace lipschitz::test;

namespace {

/// Both sides certify the same composed norms within ~2e-9 (dense_norm.cpp).
constexpr double kSameBoundTol = 1e-7;

// conv(2→3, stride 1, pad 1) → BatchNorm → act → reflect pad → conv(3→4, 3×3, stride 2) → act
// → flatten → Linear(→ outputs): every kind the path bound maps, forward and adjoint.
Network small_conv_net(Activation act, double parameter, Index outputs, std::mt19937_64& rng) {
  const ConvSpec s1 = conv2d(3, 2, 3, 6, 1, 1);
  ConvSpec s2 = conv2d(4, 3, 3, 8, 2, 0);  // on the padded 3×8×8: 4×3×3
  Layer c1 = conv_layer(s1, random_weight(s1, rng), 0);
  c1.bias = {0.1, -0.2, 0.3};
  Layer bn = simple_layer(LayerKind::batch_norm, 1, {3, 6, 6});
  bn.scale = {1.5, -0.7, 2.0};
  bn.bias = {0.0, 0.1, -0.1};
  Layer a1 = activation_layer(act, parameter, 2, {3, 6, 6});
  Layer pad = simple_layer(LayerKind::pad, 3, {3, 6, 6});
  pad.pad_mode = PadMode::reflect;
  pad.pads = {1, 1, 1, 1};
  pad.output_shape = {3, 8, 8};
  Layer c2 = conv_layer(s2, random_weight(s2, rng), 4);
  Layer a2 = activation_layer(act, parameter, 5, {4, 3, 3});
  Layer flat = simple_layer(LayerKind::reshape, 6, {4, 3, 3});
  flat.output_shape = {36};
  std::vector<double> wl(static_cast<std::size_t>(36 * outputs));
  std::normal_distribution<double> normal(0, 0.3);
  for (double& w : wl) w = normal(rng);
  Layer fc = linear_layer(outputs, 36, wl, std::vector<double>(std::size_t(outputs), 0.2), 7);
  Network net;
  net.layers = {input_layer({2, 6, 6}), c1, bn, a1, pad, c2, a2, flat, fc};
  net.output = 8;
  return net;
}

}  // namespace

TEST_CASE("on the layers' operators it equals the averaged bound of the dense chain") {
  std::mt19937_64 rng(12);
  std::mt19937 sample_rng(3);
  for (const auto& [act, parameter] : std::vector<std::pair<Activation, double>>{
           {Activation::relu, 0}, {Activation::leaky_relu, 0.2}, {Activation::tanh, 0}}) {
    for (Index outputs : {Index(1), Index(3)}) {
      const Network net = small_conv_net(act, parameter, outputs, rng);
      const NetworkBound product = bound_network(net);
      const PathBound p = averaged_path_bound(net, product);
      const ChainConversion chain = to_affine_chain(net);
      REQUIRE(chain.ok);
      REQUIRE(p.ok);
      const double dense = averaged_activation_bound(chain.chain, global_slopes(chain.chain));
      const double sampled = sampled_lipschitz(chain.chain, -2, 2, 500, sample_rng);
      INFO(to_string(act) << " outputs " << outputs << ": path " << p.upper_bound << ", chain "
                          << dense << ", product " << product.upper_bound << ", sampled " << sampled);
      CHECK(p.exact_norms == 6);  // every N(k, j) of 3 stretches
      CHECK(p.upper_bound == doctest::Approx(dense).epsilon(kSameBoundTol));
      CHECK(p.upper_bound >= sampled);
      CHECK(p.upper_bound <= product.upper_bound * (1 + 1e-12));

      // Without dense composed norms, splits and per-stretch products: looser, still sound.
      PathBoundOptions none;
      none.max_dense_side = 0;
      const PathBound split = averaged_path_bound(net, product, none);
      CHECK(split.exact_norms == 0);
      CHECK(split.split_norms == 3);
      CHECK(split.upper_bound >= p.upper_bound * (1 - kSameBoundTol));
      CHECK(split.upper_bound <= product.upper_bound * (1 + 1e-12));
    }
  }
}

TEST_CASE("networks that are not paths say why") {
  Network net;
  Layer fc = linear_layer(4, 4, std::vector<double>(16, 0.25), {}, 0);
  Layer relu = activation_layer(Activation::relu, 0, 1, {4});
  Layer sum = simple_layer(LayerKind::add, 1, {4});
  sum.inputs = {1, 2};
  sum.name = "sum";
  sum.type = "add";
  net.layers = {input_layer({4}), fc, relu, sum};
  net.output = 3;
  const PathBound p = averaged_path_bound(net, bound_network(net));
  CHECK_FALSE(p.ok);
  CHECK(p.reason == "layer 'sum' (add): the network is not a chain");
}

TEST_CASE("circular layers keep PyTorch's wrap through the adjoint too") {
  // circular conv → LeakyReLU → circular conv → flatten → Linear(→ 1): N(3, ·) are formed
  // through adjoints, N(·, 0) forward; both must match the dense chain.
  std::mt19937_64 rng(4);
  const ConvSpec s1 = [] {
    ConvSpec s = conv2d(3, 2, 3, 5, 1, 0);
    s.padding_mode = PaddingMode::circular;
    return s;
  }();
  ConvSpec s2 = s1;
  s2.weight_dim0 = 2;
  s2.weight_dim1 = 3;
  Layer c1 = conv_layer(s1, random_weight(s1, rng), 0);
  Layer a1 = activation_layer(Activation::leaky_relu, 0.1, 1, {3, 5, 5});
  Layer c2 = conv_layer(s2, random_weight(s2, rng), 2);
  Layer flat = simple_layer(LayerKind::reshape, 3, {2, 5, 5});
  flat.output_shape = {50};
  std::vector<double> wl(50);
  for (std::size_t i = 0; i < wl.size(); ++i) wl[i] = std::cos(double(3 * i));
  Layer fc = linear_layer(1, 50, wl, {}, 4);
  Network net;
  net.layers = {input_layer({2, 5, 5}), c1, a1, c2, flat, fc};
  net.output = 5;
  const ChainConversion chain = to_affine_chain(net);
  REQUIRE(chain.ok);
  const PathBound p = averaged_path_bound(net, bound_network(net));
  REQUIRE(p.ok);
  CHECK(p.exact_norms == 3);
  CHECK(p.upper_bound ==
        doctest::Approx(averaged_activation_bound(chain.chain, global_slopes(chain.chain)))
            .epsilon(kSameBoundTol));
}
