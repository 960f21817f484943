// Whole-network bounds (ALGORITHMS.md §6) against dense matrices of the composed linear maps.

#include <lipschitz/network_bound.hpp>

#include "dense_reference.hpp"
#include "network_fixtures.hpp"
#include "tolerances.hpp"

#include <doctest/doctest.h>

#include <cmath>

using namespace lipschitz;
using namespace lipschitz::test;

namespace {

/// Float layer norms are certified with a worst-case rounding margin of up to ~1 %.
constexpr double kFloatMarginTol = 1e-2;

double sigma1(const Eigen::MatrixXd& a) {
  Eigen::JacobiSVD<Eigen::MatrixXd> svd(a);
  return svd.singularValues()(0);
}

Eigen::MatrixXd kron(const Eigen::MatrixXd& a, const Eigen::MatrixXd& b) {
  Eigen::MatrixXd k(a.rows() * b.rows(), a.cols() * b.cols());
  for (Index i = 0; i < a.rows(); ++i)
    for (Index j = 0; j < a.cols(); ++j) k.block(i * b.rows(), j * b.cols(), b.rows(), b.cols()) = a(i, j) * b;
  return k;
}

// The padding operator built from its definition, index by index (rows: padded positions).
Eigen::MatrixXd dense_pad(PadMode mode, Index n, Index p) {
  Eigen::MatrixXd m = Eigen::MatrixXd::Zero(n + 2 * p, n);
  for (Index r = 0; r < n + 2 * p; ++r) {
    Index j = r - p;
    if (j < 0 || j >= n) {
      if (mode == PadMode::zeros) continue;
      if (mode == PadMode::replicate) j = j < 0 ? 0 : n - 1;
      if (mode == PadMode::circular) j = (j + n) % n;
      if (mode == PadMode::reflect) j = j < 0 ? -j : 2 * (n - 1) - j;
    }
    m(r, j) = 1;
  }
  return m;
}

}  // namespace

TEST_CASE("a one-conv network's bound is the layer's norm") {
  std::mt19937_64 rng(1);
  const ConvSpec spec = conv2d(3, 2, 3, 6, 1, 1);
  const auto w = random_weight(spec, rng);
  Network net;
  net.layers = {input_layer({2, 6, 6}), conv_layer(spec, w, 0)};
  net.output = 1;
  const NetworkBound b = bound_network(net);
  CHECK(b.certified);
  const double truth = dense_sigma1(spec, w);
  CHECK(b.upper_bound == doctest::Approx(truth).epsilon(kDoubleTol));
  CHECK(b.layers[1].exact);
  CHECK(b.layers[1].lower_bound <= truth * (1 + kReferenceSlack));
  CHECK(b.layers[1].reshaped_weight_norm > 0);
}

TEST_CASE("BatchNorm after a conv is folded: the bound is ‖diag(s)·A‖, not ‖diag(s)‖·‖A‖") {
  std::mt19937_64 rng(2);
  const ConvSpec spec = conv2d(4, 3, 3, 5, 1, 1);
  const auto w = random_weight(spec, rng);
  Layer bn = simple_layer(LayerKind::batch_norm, 1, {4, 5, 5});
  bn.scale = {0.5, 3.0, -1.5, 0.1};
  Network net;
  net.layers = {input_layer({3, 5, 5}), conv_layer(spec, w, 0), bn};
  net.output = 2;
  for (bool precision : {true, false}) {
    CAPTURE(precision);
    NetworkBoundOptions options;
    options.double_precision = precision;
    const NetworkBound b = bound_network(net, options);
    Eigen::VectorXd diag(4 * 25);
    for (int c = 0; c < 4; ++c) diag.segment(c * 25, 25).setConstant(bn.scale[c]);
    const double truth = sigma1(diag.asDiagonal() * dense_operator(spec, w));
    // Float: the engine's certified upper bound carries its worst-case rounding margin.
    const double tol = precision ? kDoubleTol : kFloatMarginTol;
    CHECK(b.certified);
    CHECK(b.upper_bound >= truth * (1 - kReferenceSlack));
    CHECK(b.upper_bound == doctest::Approx(truth).epsilon(tol));
    CHECK(b.upper_bound < 3.0 * dense_sigma1(spec, w));  // tighter than the product
    CHECK(b.layers[1].lipschitz_factor == doctest::Approx(dense_sigma1(spec, w)).epsilon(tol));
    CHECK(b.layers[2].spectral_norm == 3.0);
  }
}

TEST_CASE("BatchNorm folds into a transposed conv's output channels") {
  std::mt19937_64 rng(3);
  ConvSpec spec = conv2d(4, 2, 3, 4, 2, 1);  // weight (4, 2, 3, 3)
  spec.transposed = true;  // c_in 4 → c_out 2·groups
  spec.groups = 2;
  spec.weight_dim1 = 1;  // (c_in, c_out/groups, k, k): c_out = 2
  std::vector<double> w = random_weight(spec, rng);
  const Extent out = output_size(spec);
  Layer conv = conv_layer(spec, w, 0);
  conv.input_shape = {4, 4, 4};
  conv.output_shape = {2, out[0], out[1]};
  Layer bn = simple_layer(LayerKind::batch_norm, 1, conv.output_shape);
  bn.scale = {2.0, 0.25};
  Network net;
  net.layers = {input_layer({4, 4, 4}), conv, bn};
  net.output = 2;
  const NetworkBound b = bound_network(net);
  const Index pixels = out[0] * out[1];
  Eigen::VectorXd diag(2 * pixels);
  diag.head(pixels).setConstant(2.0);
  diag.tail(pixels).setConstant(0.25);
  const double truth = sigma1(diag.asDiagonal() * dense_operator(spec, w));
  CHECK(b.upper_bound >= truth * (1 - kReferenceSlack));
  CHECK(b.upper_bound == doctest::Approx(truth).epsilon(kDoubleTol));
}

TEST_CASE("padding operators: the closed form is the dense σ₁, for every mode") {
  for (PadMode mode : {PadMode::zeros, PadMode::reflect, PadMode::replicate, PadMode::circular})
    for (Index n : {3, 5})
      for (Index p : {1, 2}) {
        CAPTURE(to_string(mode));
        CAPTURE(n);
        CAPTURE(p);
        Layer pad = simple_layer(LayerKind::pad, 0, {1, n, n});
        pad.pad_mode = mode;
        pad.pads = {p, p, p, p};
        pad.output_shape = {1, n + 2 * p, n + 2 * p};
        Network net;
        net.layers = {input_layer({1, n, n}), pad};
        net.output = 1;
        const NetworkBound b = bound_network(net);
        const Eigen::MatrixXd p1 = dense_pad(mode, n, p);
        CHECK(b.upper_bound == doctest::Approx(sigma1(kron(p1, p1))).epsilon(1e-12));
      }
}

TEST_CASE("a circular pad before an unpadded conv merges into it, exact on the torus") {
  std::mt19937_64 rng(4);
  const Index n = 6;
  ConvSpec valid = conv2d(3, 2, 3, n + 2, 1, 0);
  const auto w = random_weight(valid, rng);
  Layer pad = simple_layer(LayerKind::pad, 0, {2, n, n});
  pad.pad_mode = PadMode::circular;
  pad.pads = {1, 1, 1, 1};
  pad.output_shape = {2, n + 2, n + 2};
  Network net;
  net.layers = {input_layer({2, n, n}), pad, conv_layer(valid, w, 1)};
  net.output = 2;
  const Network merged = merge_circular_padding(net);
  REQUIRE(merged.layers.size() == 2);
  CHECK(merged.layers[1].spec.padding_mode == PaddingMode::circular);
  CHECK(merged.layers[1].input_shape == Shape{2, n, n});
  CHECK(merged.output == 1);
  const NetworkBound b = bound_network(merged);
  // The composition, built densely: valid conv on the padded input ∘ circular padding.
  const Eigen::MatrixXd p1 = dense_pad(PadMode::circular, n, 1);
  Eigen::MatrixXd p = Eigen::MatrixXd::Zero(2 * (n + 2) * (n + 2), 2 * n * n);
  const Eigen::MatrixXd per_channel = kron(p1, p1);
  for (int c = 0; c < 2; ++c)
    p.block(c * (n + 2) * (n + 2), c * n * n, (n + 2) * (n + 2), n * n) = per_channel;
  const double truth = sigma1(dense_operator(valid, w) * p);
  CHECK(b.upper_bound == doctest::Approx(truth).epsilon(kDoubleTol));
  CHECK(b.layers[1].exact);
  CHECK(b.layers[1].method == "circular-exact");
  // Not merged when the pad is not (k − 1)/2, or when something else reads the pad.
  net.layers[1].pads = {2, 0, 1, 1};
  CHECK(merge_circular_padding(net).layers.size() == 3);
}

TEST_CASE("residual sums: x + f(x) is bounded by 1 + L_f") {
  std::mt19937_64 rng(5);
  const ConvSpec spec = conv2d(2, 2, 3, 5, 1, 1);
  const auto w = random_weight(spec, rng);
  Layer add = simple_layer(LayerKind::add, 1, {2, 5, 5});
  add.inputs = {0, 1};
  Network net;
  net.layers = {input_layer({2, 5, 5}), conv_layer(spec, w, 0), add};
  net.output = 2;
  const NetworkBound b = bound_network(net);
  const Eigen::MatrixXd a = dense_operator(spec, w);
  const double truth = sigma1(Eigen::MatrixXd::Identity(a.rows(), a.cols()) + a);
  CHECK(b.certified);
  CHECK(b.upper_bound == doctest::Approx(1 + dense_sigma1(spec, w)).epsilon(kDoubleTol));
  CHECK(b.upper_bound >= truth * (1 - kReferenceSlack));
}

TEST_CASE("a chain of linear maps: the bound is at least the dense norm of the product") {
  std::mt19937_64 rng(6);
  for (int trial = 0; trial < 6; ++trial) {
    CAPTURE(trial);
    const ConvSpec a = conv2d(3, 2, 3, 6, 1 + trial % 2, 1);
    const Extent mid = output_size(a);
    ConvSpec b = conv2d(2, 3, 3, mid[0], 1, 1);
    const auto wa = random_weight(a, rng), wb = random_weight(b, rng);
    Layer act = simple_layer(LayerKind::activation, 1, {3, mid[0], mid[1]});
    act.activation = Activation::leaky_relu;
    act.parameter = 0.2;
    Network net;
    net.layers = {input_layer({2, 6, 6}), conv_layer(a, wa, 0), act, conv_layer(b, wb, 2)};
    net.output = 3;
    const NetworkBound r = bound_network(net);
    // With LeakyReLU the true constant is at most ‖B‖‖A‖, and at least ‖B·A‖ (slope 1 region).
    const double product = sigma1(dense_operator(b, wb) * dense_operator(a, wa));
    CHECK(r.upper_bound >= product * (1 - kReferenceSlack));
    CHECK(r.upper_bound ==
          doctest::Approx(dense_sigma1(a, wa) * dense_sigma1(b, wb)).epsilon(kDoubleTol));
  }
}

TEST_CASE("max pooling: √(windows per pixel)") {
  const auto factor = [](Index k, Index s) {
    Layer pool = simple_layer(LayerKind::max_pool, 0, {1, 8, 8});
    pool.pool.kernel = {k, k};
    pool.pool.stride = {s, s};
    Network net;
    net.layers = {input_layer({1, 8, 8}), pool};
    net.output = 1;
    return bound_network(net).upper_bound;
  };
  CHECK(factor(2, 2) == 1);
  CHECK(factor(3, 1) == doctest::Approx(3));
  CHECK(factor(3, 2) == doctest::Approx(2));
}

TEST_CASE("activation constants are the maxima of their derivatives, never below") {
  const auto numeric = [](auto f) {  // max over a fine grid of the central difference
    double best = 0;
    for (double x = -10; x <= 10; x += 1e-4) best = std::max(best, (f(x + 1e-6) - f(x - 1e-6)) / 2e-6);
    return best;
  };
  const double gelu = numeric([](double x) { return 0.5 * x * std::erfc(-x / std::sqrt(2.0)); });
  const double silu = numeric([](double x) { return x / (1 + std::exp(-x)); });
  const double sig = numeric([](double x) { return 1 / (1 + std::exp(-x)); });
  CHECK(activation_lipschitz(Activation::gelu, 0) >= gelu);
  CHECK(activation_lipschitz(Activation::gelu, 0) == doctest::Approx(gelu).epsilon(1e-6));
  CHECK(activation_lipschitz(Activation::gelu, 0) == doctest::Approx(1.1289).epsilon(1e-4));
  CHECK(activation_lipschitz(Activation::silu, 0) >= silu);
  CHECK(activation_lipschitz(Activation::silu, 0) == doctest::Approx(1.0998).epsilon(1e-4));
  const double gelu_tanh = numeric([](double x) {
    return 0.5 * x * (1 + std::tanh(std::sqrt(2 / M_PI) * (x + 0.044715 * x * x * x)));
  });
  CHECK(activation_lipschitz(Activation::gelu_tanh, 0) >= gelu_tanh);
  CHECK(activation_lipschitz(Activation::gelu_tanh, 0) == doctest::Approx(gelu_tanh).epsilon(1e-5));
  CHECK(activation_lipschitz(Activation::silu, 0) == doctest::Approx(silu).epsilon(1e-5));
  CHECK(activation_lipschitz(Activation::sigmoid, 0) >= sig);
  CHECK(activation_lipschitz(Activation::leaky_relu, 0.2) == 1);
  CHECK(activation_lipschitz(Activation::leaky_relu, -3) == 3);
  CHECK(activation_lipschitz(Activation::elu, 2.5) == 2.5);
  CHECK(activation_lipschitz(Activation::elu, -2) == 2);
}

TEST_CASE("LayerNorm and unknown layers: no certified bound, and the reason says which") {
  Network net;
  Layer ln = simple_layer(LayerKind::layer_norm, 0, {4});
  ln.name = "norm1";
  ln.type = "LayerNorm";
  Layer unknown = simple_layer(LayerKind::unknown, 0, {4});
  unknown.name = "soft";
  unknown.type = "aten::softmax";
  Layer act = simple_layer(LayerKind::activation, 0, {4});
  net.layers = {input_layer({4}), ln, unknown, act};
  net.output = 1;
  NetworkBound b = bound_network(net);
  CHECK_FALSE(b.certified);
  CHECK(std::isinf(b.upper_bound));
  REQUIRE(b.reasons.size() == 1);
  CHECK(b.reasons[0].find("LayerNorm") != std::string::npos);
  net.output = 2;
  b = bound_network(net);
  REQUIRE(b.reasons.size() == 1);
  CHECK(b.reasons[0].find("aten::softmax") != std::string::npos);
  net.output = 3;  // the output does not depend on either: certified
  b = bound_network(net);
  CHECK(b.certified);
  CHECK(b.upper_bound == 1);
}

TEST_CASE("invalid networks are refused with the layer named") {
  Network net;
  net.layers = {input_layer({2}), simple_layer(LayerKind::activation, 3, {2})};
  net.output = 1;
  CHECK_THROWS_WITH_AS(bound_network(net), doctest::Contains("is not an earlier layer"),
                       std::invalid_argument);
  std::mt19937_64 rng(7);
  const ConvSpec spec = conv2d(2, 2, 3, 4, 1, 1);
  Layer conv = conv_layer(spec, {1.0, 2.0}, 0);
  net.layers = {input_layer({2, 4, 4}), conv};
  CHECK_THROWS_WITH_AS(bound_network(net), doctest::Contains("weight has 2 entries"),
                       std::invalid_argument);
}

TEST_CASE("shape text") {
  CHECK(parse_shape("3x64x64") == Shape{3, 64, 64});
  CHECK(parse_shape("16") == Shape{16});
  for (const char* bad : {"", "abc", "3x", "x3", "3x0", "3x-1", "1x2x3x4x5"})
    CHECK_THROWS_AS(parse_shape(bad), std::invalid_argument);
  CHECK(shape_string(Shape{3, 4}) == "3x4");
  CHECK(shape_string(Shape{}) == "scalar");
}

TEST_CASE("a folded conv keeps its own factor; the pair's replaces it from the conv's input") {
  std::mt19937_64 rng(8);
  const ConvSpec spec = conv2d(2, 2, 3, 4, 1, 1);
  const auto w = random_weight(spec, rng);
  Layer bn = simple_layer(LayerKind::batch_norm, 2, {2, 4, 4});
  bn.scale = {0.1, 0.2};
  Layer act = simple_layer(LayerKind::activation, 0, {2, 4, 4});
  act.activation = Activation::elu;
  act.parameter = -3;  // ELU with α = −3: constant 3
  Network net;
  net.layers = {input_layer({2, 4, 4}), act, conv_layer(spec, w, 1), bn};
  net.output = 3;
  const NetworkBound b = bound_network(net);
  const double conv_norm = dense_sigma1(spec, w);
  CHECK(b.layers[1].lipschitz_factor == 3);
  CHECK(b.layers[2].lipschitz_factor == doctest::Approx(conv_norm).epsilon(kDoubleTol));
  CHECK(b.layers[2].cumulative_bound >= 3 * conv_norm * (1 - kReferenceSlack));
  CHECK(b.upper_bound == doctest::Approx(3 * b.layers[3].lipschitz_factor));
  CHECK(b.upper_bound < 3 * conv_norm * 0.2);
  // The conv as the network's output is not folded: its own bound is what is asked.
  net.output = 2;
  CHECK(bound_network(net).upper_bound == doctest::Approx(3 * conv_norm).epsilon(kDoubleTol));
}

TEST_CASE("BatchNorm does not fold into a Linear applied to (C, F): it scales C, not the outputs") {
  Layer linear;
  linear.name = "fc";
  linear.kind = LayerKind::conv;
  linear.linear = true;
  linear.inputs = {0};
  linear.spec.spatial_dims = 1;
  linear.spec.weight_dim0 = 3;
  linear.spec.weight_dim1 = 3;
  linear.spec.padding_mode = PaddingMode::circular;
  linear.weight.assign(9, 1.0 / 3);  // rank one, norm 1
  linear.input_shape = linear.output_shape = {3, 3};
  Layer bn = simple_layer(LayerKind::batch_norm, 1, {3, 3});
  bn.scale = {10, 0.1, 0.1};
  Network net;
  net.layers = {input_layer({3, 3}), linear, bn};
  net.output = 2;
  // The truth is 10 (channel 0's rows are scaled by 10); folding over the outputs would say 5.8.
  CHECK(bound_network(net).upper_bound >= 10 * (1 - kReferenceSlack));
}

TEST_CASE("softplus with a low threshold jumps: no certified bound") {
  Layer sp = simple_layer(LayerKind::activation, 0, {4});
  sp.activation = Activation::softplus;
  sp.parameter = 2;
  sp.parameter2 = 1;
  Network net;
  net.layers = {input_layer({4}), sp};
  net.output = 1;
  NetworkBound b = bound_network(net);
  CHECK_FALSE(b.certified);
  REQUIRE(b.reasons.size() == 1);
  CHECK(b.reasons[0].find("jumps") != std::string::npos);
  net.layers[1].parameter2 = 20;  // PyTorch's default: a jump of 1e-9
  b = bound_network(net);
  CHECK(b.certified);
  CHECK(b.upper_bound == 1);
}
