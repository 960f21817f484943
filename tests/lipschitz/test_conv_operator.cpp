// Tests conv_operator.hpp: the FFT and spatial operators equal the dense operator; adjoint
// identity.
#include <doctest/doctest.h>
#include <lipschitz/conv_operator.hpp>

#include "dense_reference.hpp"
#include "tolerances.hpp"

using namespace lipschitz;
using namespace lipschitz::test;

TEST_CASE("apply and apply_adjoint match the dense operator on random layers") {
  std::mt19937_64 rng(99);
  std::normal_distribution<double> normal;
  for (int trial = 0; trial < 40; ++trial) {
    const ConvSpec spec =
        random_spec(rng, trial % 3 == 0 ? PaddingMode::circular : PaddingMode::zeros);
    const auto w = random_weight(spec, rng);
    const ForwardConv f = forward_conv(spec);
    // The dense operator of the forward convolution (a transposed layer's adjoint).
    Eigen::MatrixXd a = dense_operator(spec, w);
    if (spec.transposed) a.transposeInPlace();
    const KernelSpectrum<double> ks(w.data(), f, minimal_torus(f));
    ConvOperator<double> fft_op(ks, 1);
    SpatialConvOperator<double> spatial_op(w.data(), f, trial % 2 + 1);
    REQUIRE(fft_op.input_size() == a.cols());
    REQUIRE(fft_op.output_size() == a.rows());
    REQUIRE(spatial_op.input_size() == a.cols());
    REQUIRE(spatial_op.output_size() == a.rows());
    Eigen::VectorXd x(a.cols()), y(a.rows()), tx(a.rows()), ty(a.cols());
    for (Index i = 0; i < x.size(); ++i) x(i) = normal(rng);
    for (Index i = 0; i < y.size(); ++i) y(i) = normal(rng);
    CAPTURE(trial);
    for (int which = 0; which < 2; ++which) {
      CAPTURE(which);
      if (which == 0) {
        fft_op.apply(x.data(), tx.data());
        fft_op.apply_adjoint(y.data(), ty.data());
      } else {
        spatial_op.apply(x.data(), tx.data());
        spatial_op.apply_adjoint(y.data(), ty.data());
      }
      // Scale of the rounding: the weight's norm (the operator may be zero when every tap
      // lands in the padding, so a.norm() cannot be the scale).
      const double scale = Eigen::Map<const Eigen::VectorXd>(w.data(), Index(w.size())).norm() *
                           (x.norm() + y.norm());
      CHECK((tx - a * x).norm() <= 1e-12 * scale);
      CHECK((ty - a.transpose() * y).norm() <= 1e-12 * scale);
      // <T x, y> = <x, Tᵀ y>
      CHECK(std::abs(tx.dot(y) - x.dot(ty)) <= 1e-12 * scale * (x.norm() + y.norm()));
    }
  }
}

TEST_CASE("minimal torus: no wrap for zero padding, the input itself for circular layers") {
  ForwardConv f;
  f.kernel = {3, 3};
  f.padding = {1, 1};
  f.input = {10, 10};
  f.output = {10, 10};
  CHECK(minimal_torus(f) == Extent{12, 12});  // max(n + p, (m−1)s + k_eff) = max(11, 9 + 3)
  f.stride = {2, 2};
  f.output = {5, 5};  // (10 + 2 − 3)/2 + 1: max(11, 4·2 + 3) = 11, rounded up to the stride
  CHECK(minimal_torus(f) == Extent{12, 12});
  f.circular = true;
  f.input = {6, 6};
  CHECK(minimal_torus(f) == Extent{6, 6});
}

TEST_CASE("the FFT operator refuses a spectrum computed on demand") {
  ForwardConv f;
  f.kernel = {3, 3};
  f.input = f.output = {4, 4};
  f.circular = true;
  std::vector<double> w(9, 1.0);
  const KernelSpectrum<double> ks(w.data(), f, minimal_torus(f), 0, SpectrumStorage::on_demand);
  CHECK_THROWS_WITH_AS(ConvOperator<double>(ks, 1),
                       "ConvOperator needs a KernelSpectrum built with SpectrumStorage::stored",
                       std::invalid_argument);
}
