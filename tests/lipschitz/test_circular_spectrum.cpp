// Tests circular_spectrum.hpp against dense SVDs of the operator, plus properties.
#include <doctest/doctest.h>
#include <lipschitz/circular_spectrum.hpp>

#include "dense_reference.hpp"
#include "tolerances.hpp"

using namespace lipschitz;
using namespace lipschitz::test;

namespace {

template <class T>
std::vector<double> engine_values(const ConvSpec& spec, const std::vector<double>& w,
                                  BlockSolver solver) {
  const std::vector<T> wt(w.begin(), w.end());
  const ForwardConv f = forward_conv(spec);
  const KernelSpectrum<T> ks(wt.data(), f, f.input);
  SpectrumOptions o;
  o.solver = solver;
  const auto v = circular_singular_values(ks, o);
  return std::vector<double>(v.begin(), v.end());
}

ConvSpec circular2d(Index co, Index ci, Index k, Index n) {
  return square_conv2d(co, ci, k, n, PaddingMode::circular);
}

}  // namespace

TEST_CASE("full spectrum equals the dense SVD over random circular layers") {
  std::mt19937_64 rng(20190101);
  for (int trial = 0; trial < 60; ++trial) {
    const ConvSpec spec = random_spec(rng, PaddingMode::circular);
    const auto w = random_weight(spec, rng);
    const auto want = dense_singular_values(spec, w);
    CAPTURE(trial);
    CAPTURE(spec.weight_dim0);
    CAPTURE(spec.weight_dim1);
    CAPTURE(spec.groups);
    CAPTURE(spec.transposed);
    CAPTURE(spec.input[0]);
    CAPTURE(spec.input[1]);
    CAPTURE(spec.kernel[0]);
    CAPTURE(spec.kernel[1]);
    CAPTURE(spec.stride[0]);
    CAPTURE(spec.stride[1]);
    CAPTURE(spec.dilation[0]);
    CAPTURE(spec.dilation[1]);
    CAPTURE(spec.spatial_dims);
    // A transposed layer has the nonzero values of its adjoint; compare the longer list.
    const auto got_d = engine_values<double>(spec, w, BlockSolver::gram_eigen);
    const auto got_svd = engine_values<double>(spec, w, BlockSolver::svd);
    const auto got_f = engine_values<float>(spec, w, BlockSolver::svd);
    const auto got_fg = engine_values<float>(spec, w, BlockSolver::gram_eigen);
    CHECK(spectrum_error(got_d, want) < kDoubleTol);
    CHECK(spectrum_error(got_svd, want) < kDoubleTol);
    CHECK(spectrum_error(got_f, want) < kFloatTol);
    CHECK(spectrum_error(got_fg, want) < kFloatGramTol);
    // Count: m₁m₂ · groups · min(rows, cols) values (the rest of a tall operator is zero).
    const ForwardConv f = forward_conv(spec);
    const Index rows = f.out_channels / f.groups,
                cols = f.in_channels / f.groups * f.stride[0] * f.stride[1];
    CHECK(Index(got_d.size()) == f.output[0] * f.output[1] * f.groups * std::min(rows, cols));
  }
}

TEST_CASE("certified sigma_1 brackets the dense value within the tolerance") {
  std::mt19937_64 rng(4242);
  for (int trial = 0; trial < 60; ++trial) {
    const ConvSpec spec = random_spec(rng, PaddingMode::circular);
    const auto w = random_weight(spec, rng);
    const double truth = dense_singular_values(spec, w).front();
    const ForwardConv f = forward_conv(spec);
    CAPTURE(trial);
    // Both certification routes: the Cholesky test alone (default), and Gram iterations first.
    for (int variant = 0; variant < 4; ++variant) {
      const int precision = variant % 2;
      NormOptions o;
      o.gram_steps = variant < 2 ? 0 : 4;
      CAPTURE(variant);
      NormBounds b;
      RoundingMargin m;
      if (precision == 0) {
        const KernelSpectrum<double> ks(w.data(), f, f.input);
        b = circular_norm_bounds(ks, o);
        m = rounding_margin(ks, ks.block_rows(), ks.block_cols());
      } else {
        const std::vector<float> wf(w.begin(), w.end());
        const KernelSpectrum<float> ks(wf.data(), f, f.input);
        b = circular_norm_bounds(ks, o);
        m = rounding_margin(ks, ks.block_rows(), ks.block_cols());
      }
      const double slack = precision == 0 ? kReferenceSlack : 0.0;
      CHECK(b.lower <= truth * (1 + slack));
      CHECK(b.upper >= truth * (1 - slack));
      CHECK(b.pruned + b.settled + b.resolved == b.blocks);
      // Width: the tolerance (1e-6), or twice the rounding margin where that is wider (float).
      CHECK((b.upper - b.lower) <=
            std::max(1e-6 * truth, 2 * (m.relative * b.upper + m.absolute)) * (1 + 1e-9));
    }
  }
}

TEST_CASE("certified sigma_1 on wider layers, where most blocks are settled by the Cholesky test") {
  std::mt19937_64 rng(777);
  for (int trial = 0; trial < 6; ++trial) {
    ConvSpec s = circular2d(24 + 4 * trial, 16, 3, 6 + trial);
    const auto w = random_weight(s, rng);
    const double truth = dense_sigma1(s, w);
    const ForwardConv f = forward_conv(s);
    const KernelSpectrum<double> ks(w.data(), f, f.input);
    const NormBounds b = circular_norm_bounds(ks);
    CAPTURE(trial);
    CHECK(b.lower <= truth * (1 + kReferenceSlack));
    CHECK(b.upper >= truth * (1 - kReferenceSlack));
    CHECK(b.upper - b.lower <= 1e-6 * truth * (1 + 1e-9));
    CHECK(b.settled + b.pruned > 0);
  }
}

TEST_CASE("certified sigma_1 on blocks large enough for Lanczos, real and complex, float and double") {
  // Blocks of 72 or more (above the exact-solve threshold of 64): the blocks that may hold σ₁
  // are estimated by Lanczos and certified by the Cholesky test. A 2 × 2 torus has only
  // self-conjugate (real) blocks, 3 × 3 mostly complex ones, stride 2 folds four aliases.
  std::mt19937_64 rng(9001);
  struct Case {
    Index co, ci, k, n, s;
  };
  for (const Case c : {Case{72, 72, 3, 2, 1}, Case{72, 80, 3, 3, 1}, Case{96, 24, 4, 4, 2},
                       Case{80, 72, 1, 3, 1}}) {
    ConvSpec s = circular2d(c.co, c.ci, c.k, c.n);
    s.stride = {c.s, c.s};
    const auto w = random_weight(s, rng);
    const double truth = dense_sigma1(s, w);
    const ForwardConv f = forward_conv(s);
    CAPTURE(c.co);
    CAPTURE(c.n);
    CAPTURE(c.s);
    for (int precision = 0; precision < 2; ++precision) {
      CAPTURE(precision);
      NormBounds b;
      RoundingMargin m;
      if (precision == 0) {
        const KernelSpectrum<double> ks(w.data(), f, f.input);
        b = circular_norm_bounds(ks);
        m = rounding_margin(ks, ks.block_rows(), ks.block_cols());
      } else {
        const std::vector<float> wf(w.begin(), w.end());
        const KernelSpectrum<float> ks(wf.data(), f, f.input);
        b = circular_norm_bounds(ks);
        m = rounding_margin(ks, ks.block_rows(), ks.block_cols());
      }
      const double slack = precision == 0 ? kReferenceSlack : 0.0;
      CHECK(b.lower <= truth * (1 + slack));
      CHECK(b.upper >= truth * (1 - slack));
      CHECK(b.resolved >= 1);
      if (precision == 0) CHECK(b.lanczos >= 1);  // in float the margin is wider than 1e-6
      CHECK(b.pruned + b.settled + b.resolved == b.blocks);
      CHECK((b.upper - b.lower) <=
            std::max(1e-6 * truth, 2 * (m.relative * b.upper + m.absolute)) * (1 + 1e-9));
    }
  }
}

TEST_CASE("properties: identity, orthogonal 1x1, scaling, adjoint") {
  SUBCASE("identity kernel: every singular value is 1") {
    ConvSpec s = circular2d(3, 3, 3, 5);
    std::vector<double> w(3 * 3 * 9, 0.0);
    for (int c = 0; c < 3; ++c) w[(c * 3 + c) * 9 + 4] = 1.0;  // centre tap
    for (double v : engine_values<double>(s, w, BlockSolver::gram_eigen))
      CHECK(std::abs(v - 1) < 1e-12);
  }
  SUBCASE("orthogonal 1x1 kernel: every singular value is 1") {
    ConvSpec s = circular2d(2, 2, 1, 4);
    const double c = std::cos(0.3), sn = std::sin(0.3);
    std::vector<double> w{c, -sn, sn, c};
    const auto v = engine_values<double>(s, w, BlockSolver::svd);
    CHECK(v.size() == 32);
    for (double x : v) CHECK(std::abs(x - 1) < 1e-12);
  }
  SUBCASE("scaling the weight by alpha scales every singular value by |alpha|") {
    std::mt19937_64 rng(3);
    ConvSpec s = circular2d(4, 3, 3, 6);
    auto w = random_weight(s, rng);
    const auto a = engine_values<double>(s, w, BlockSolver::gram_eigen);
    for (double& x : w) x *= -2.5;
    const auto b = engine_values<double>(s, w, BlockSolver::gram_eigen);
    REQUIRE(a.size() == b.size());
    for (std::size_t i = 0; i < a.size(); ++i)
      CHECK(std::abs(b[i] - 2.5 * a[i]) < 1e-12 * b.front());
  }
  SUBCASE("a transposed layer has the values of its adjoint convolution") {
    std::mt19937_64 rng(5);
    ConvSpec s = circular2d(4, 3, 3, 6);
    s.stride = {2, 2};
    const auto w = random_weight(s, rng);
    ConvSpec t = s;
    t.transposed = true;
    t.input = {3, 3};  // the convolution's output size
    CHECK(spectrum_error(engine_values<double>(t, w, BlockSolver::svd),
                         engine_values<double>(s, w, BlockSolver::svd)) < 1e-13);
  }
  SUBCASE("zero weights give zeros and a zero interval") {
    ConvSpec s = circular2d(2, 2, 3, 4);
    std::vector<double> w(2 * 2 * 9, 0.0);
    const ForwardConv f = forward_conv(s);
    const KernelSpectrum<double> ks(w.data(), f, f.input);
    const NormBounds b = circular_norm_bounds(ks);
    CHECK(b.lower == 0.0);
    CHECK(b.upper == 0.0);
  }
}

TEST_CASE("edge cases on purpose") {
  std::mt19937_64 rng(11);
  struct Case {
    Index co, ci, k, n, s;
  };
  // 1x1 kernels, one channel, kernel as large as / larger than the input, stride = kernel.
  for (const Case c :
       {Case{3, 2, 1, 4, 1}, Case{1, 1, 3, 5, 1}, Case{2, 3, 4, 4, 1}, Case{2, 2, 5, 3, 1},
        Case{3, 2, 2, 6, 2}, Case{2, 2, 3, 6, 3}, Case{1, 1, 1, 1, 1}}) {
    ConvSpec s = circular2d(c.co, c.ci, c.k, c.n);
    s.stride = {c.s, c.s};
    CAPTURE(c.co);
    CAPTURE(c.ci);
    CAPTURE(c.k);
    CAPTURE(c.n);
    CAPTURE(c.s);
    const auto w = random_weight(s, rng);
    CHECK(spectrum_error(engine_values<double>(s, w, BlockSolver::gram_eigen),
                         dense_singular_values(s, w)) < kDoubleTol);
  }
  SUBCASE("ALGORITHMS.md's wrap-around example: 3x3 kernel on a 2x2 torus is not cropped") {
    ConvSpec s = circular2d(1, 1, 3, 2);
    const auto w = random_weight(s, rng);
    CHECK(spectrum_error(engine_values<double>(s, w, BlockSolver::svd),
                         dense_singular_values(s, w)) < kDoubleTol);
  }
}
