// affine_chain.hpp: networks brought into chain form against the dense operators of their
// layers, Jacobians against finite differences, and slope ranges against sampled derivatives.

#include <lipschitz/affine_chain.hpp>

#include "network_fixtures.hpp"
#include "random_chain.hpp"
#include "tolerances.hpp"

#include <doctest/doctest.h>

using namespace lipschitz;
using namespace lipschitz::test;

namespace {
/// Entries built through the spatial operator are sums of at most a few products.
constexpr double kEntryTol = 1e-13;
/// Central differences with h = 1e-6 on smooth activations.
constexpr double kFiniteDifferenceTol = 1e-6;
}  // namespace

TEST_CASE("conv–BatchNorm–LeakyReLU–conv–flatten–Linear becomes two dense maps") {
  std::mt19937_64 rng(3);
  const ConvSpec s1 = conv2d(3, 2, 3, 6, 2, 1);  // 2×6×6 → 3×3×3
  const auto w1 = random_weight(s1, rng);
  ConvSpec s2 = conv2d(4, 3, 2, 3, 1, 0);  // 3×3×3 → 4×2×2
  const auto w2 = random_weight(s2, rng);
  Network net;
  Layer c1 = conv_layer(s1, w1, 0);
  c1.bias = {0.1, -0.2, 0.3};
  Layer bn = simple_layer(LayerKind::batch_norm, 1, {3, 3, 3});
  bn.scale = {2.0, -0.5, 1.5};
  bn.bias = {0.01, 0.02, 0.03};
  Layer act = activation_layer(Activation::leaky_relu, 0.2, 2, {3, 3, 3});
  Layer c2 = conv_layer(s2, w2, 3);
  Layer flat = simple_layer(LayerKind::reshape, 4, {4, 2, 2});
  flat.output_shape = {16};
  std::vector<double> wl(16);
  for (std::size_t i = 0; i < wl.size(); ++i) wl[i] = std::sin(double(i));
  Layer fc = linear_layer(1, 16, wl, {0.5}, 5);
  net.layers = {input_layer({2, 6, 6}), c1, bn, act, c2, flat, fc};
  net.output = 6;

  const ChainConversion conv = to_affine_chain(net);
  REQUIRE(conv.ok);
  const AffineChain& c = conv.chain;
  REQUIRE(c.depth() == 2);
  CHECK(c.activations[0] == Activation::leaky_relu);
  CHECK(c.parameters[0] == 0.2);
  Eigen::VectorXd scale(27), shift(27);
  for (int ch = 0; ch < 3; ++ch) {
    scale.segment(ch * 9, 9).setConstant(bn.scale[ch]);
    shift.segment(ch * 9, 9).setConstant(c1.bias[ch] * bn.scale[ch] + bn.bias[ch]);
  }
  const Eigen::MatrixXd first = scale.asDiagonal() * dense_operator(s1, w1);
  CHECK((c.weights[0] - first).cwiseAbs().maxCoeff() < kEntryTol);
  CHECK((c.biases[0] - shift).cwiseAbs().maxCoeff() < kEntryTol);
  const Eigen::RowVectorXd fc_row = Eigen::Map<const Eigen::RowVectorXd>(wl.data(), 16);
  const Eigen::MatrixXd second = fc_row * dense_operator(s2, w2);
  CHECK((c.weights[1] - second).cwiseAbs().maxCoeff() < kEntryTol);
  CHECK(c.biases[1](0) == doctest::Approx(0.5));
  CHECK(c.names[0] == "conv0+batch_norm1");
}

TEST_CASE("pads and affine layers compose as their matrices") {
  Layer pad = simple_layer(LayerKind::pad, 0, {1, 3});
  pad.pad_mode = PadMode::reflect;
  pad.pads = {0, 0, 2, 1};
  pad.output_shape = {1, 6};
  Layer affine = simple_layer(LayerKind::affine, 1, {1, 6});
  affine.affine_scale = {{6}, {1, 2, 3, 4, 5, 6}};
  affine.affine_offset = {{1}, {0.5}};
  Network net;
  net.layers = {input_layer({1, 3}), pad, affine};
  net.output = 2;
  const ChainConversion conv = to_affine_chain(net);
  REQUIRE(conv.ok);
  // Reflect by 2 then 1: [x2, x1, x0, x1, x2, x1], scaled by 1…6, plus 0.5.
  Eigen::MatrixXd want = Eigen::MatrixXd::Zero(6, 3);
  const int source[6] = {2, 1, 0, 1, 2, 1};
  for (int r = 0; r < 6; ++r) want(r, source[r]) = r + 1;
  CHECK((conv.chain.weights[0] - want).cwiseAbs().maxCoeff() == 0);
  CHECK((conv.chain.biases[0].array() == 0.5).all());
}

TEST_CASE("networks that are not chains say why") {
  Network net;
  net.layers = {input_layer({4}), simple_layer(LayerKind::activation, 0, {4}),
                simple_layer(LayerKind::add, 1, {4})};
  net.layers[2].inputs = {0, 1};
  net.layers[2].name = "sum";
  net.layers[2].type = "add";
  net.output = 2;
  ChainConversion c = to_affine_chain(net);
  CHECK_FALSE(c.ok);
  CHECK(c.reason == "layer 'sum' (add): the network is not a chain (it has 2 inputs)");

  net.layers[2] = simple_layer(LayerKind::layer_norm, 1, {4});
  c = to_affine_chain(net);
  CHECK_FALSE(c.ok);
  CHECK(c.reason.find("neither affine nor an elementwise activation") != std::string::npos);

  std::vector<double> w(64 * 4, 0.1);
  net.layers = {input_layer({4}), linear_layer(64, 4, w, {}, 0)};
  net.output = 1;
  c = to_affine_chain(net, 100);
  CHECK_FALSE(c.ok);
  CHECK(c.reason.find("would be a dense 64 x 4 matrix, above the limit of 100 entries") !=
        std::string::npos);
}

TEST_CASE("jacobian matches central differences; slopes contain every derivative") {
  std::mt19937 rng(2);
  for (Activation act : {Activation::tanh, Activation::sigmoid, Activation::softplus,
                         Activation::elu, Activation::gelu, Activation::gelu_tanh,
                         Activation::silu}) {
    const double parameter = act == Activation::softplus || act == Activation::elu ? 1.0 : 0;
    const AffineChain c = random_chain({3, 7, 5, 2}, act, parameter, rng);
    const Eigen::VectorXd x = Eigen::VectorXd::Random(3);
    const Eigen::MatrixXd j = jacobian(c, x);
    Eigen::MatrixXd fd(2, 3);
    const double h = 1e-6;
    for (int i = 0; i < 3; ++i) {
      Eigen::VectorXd e = Eigen::VectorXd::Zero(3);
      e(i) = h;
      fd.col(i) = (evaluate(c, x + e) - evaluate(c, x - e)) / (2 * h);
    }
    INFO(to_string(act));
    CHECK((j - fd).cwiseAbs().maxCoeff() < kFiniteDifferenceTol);
  }
  for (Activation act : {Activation::relu, Activation::leaky_relu, Activation::tanh,
                         Activation::sigmoid, Activation::softplus, Activation::elu,
                         Activation::gelu, Activation::gelu_tanh, Activation::silu}) {
    for (double parameter : {0.2, 1.0, 1.7}) {
      const SlopeRange r = activation_slopes(act, parameter);
      double lo = 1e9, hi = -1e9;
      const double reach = act == Activation::softplus ? 12 / std::min(parameter, 1.0) : 12;
      for (double z = -reach; z <= reach; z += reach / 12000) {
        const double d = activation_derivative(act, parameter, z);
        lo = std::min(lo, d);
        hi = std::max(hi, d);
      }
      INFO(to_string(act) << " " << parameter << ": [" << lo << ", " << hi << "] in [" << r.lower
                          << ", " << r.upper << "]");
      CHECK(r.lower <= lo);
      CHECK(r.upper >= hi);
      CHECK(r.upper - r.lower <= (hi - lo) + 1e-4);  // and not loose
    }
  }
}

TEST_CASE("a circular conv composes with PyTorch's wrap of (k_eff − 1)/2, not the engine's") {
  // y[o, j] = Σ_{i,t} W[o, i, t]·x[i, (j + t·d − p) mod n] with p = (k_eff − 1)/2: the shift
  // does not change the layer's own norm, but it does change its product with the next layer.
  std::mt19937_64 rng(9);
  ConvSpec spec = conv2d(3, 2, 3, 5, 1, 0);
  spec.input = {4, 5};
  spec.dilation = {1, 2};  // k_eff = 3 × 5: wraps of 1 and 2
  spec.padding_mode = PaddingMode::circular;
  const auto w = random_weight(spec, rng);
  Layer conv = conv_layer(spec, w, 0);
  conv.input_shape = {2, 4, 5};
  conv.output_shape = {3, 4, 5};
  Network net;
  net.layers = {input_layer({2, 4, 5}), conv};
  net.output = 1;
  const ChainConversion c = to_affine_chain(net);
  REQUIRE(c.ok);
  Eigen::MatrixXd want = Eigen::MatrixXd::Zero(60, 40);
  for (Index o = 0; o < 3; ++o)
    for (Index i = 0; i < 2; ++i)
      for (Index t1 = 0; t1 < 3; ++t1)
        for (Index t2 = 0; t2 < 3; ++t2)
          for (Index j1 = 0; j1 < 4; ++j1)
            for (Index j2 = 0; j2 < 5; ++j2) {
              const Index s1 = ((j1 + t1 - 1) % 4 + 4) % 4, s2 = ((j2 + 2 * t2 - 2) % 5 + 5) % 5;
              want((o * 4 + j1) * 5 + j2, (i * 4 + s1) * 5 + s2) +=
                  w[static_cast<std::size_t>(((o * 2 + i) * 3 + t1) * 3 + t2)];
            }
  CHECK((c.chain.weights[0] - want).cwiseAbs().maxCoeff() < kEntryTol);
}
