// Tests tap_gram.hpp and the σ₁ search on it against dense SVDs of the operator, against Gram
// matrices built from the definition in long double, and against the block-based search.
#include <doctest/doctest.h>
#include <lipschitz/circular_spectrum.hpp>
#include <lipschitz/conv_norm.hpp>
#include <lipschitz/tap_gram.hpp>

#include "dense_reference.hpp"
#include "tolerances.hpp"

#include <Eigen/Eigenvalues>

#include <cmath>

using namespace lipschitz;
using namespace lipschitz::test;

namespace {

using Wide = std::complex<long double>;
using WideMatrix = Eigen::Matrix<Wide, Eigen::Dynamic, Eigen::Dynamic>;

/// Eigenvalues of a TapGram matrix (lower triangle), ascending.
Eigen::VectorXd eigenvalues(const TapGram& tg, Index f, Index g, TapGram::Scratch& scratch) {
  if (tg.self_conjugate(f)) {
    TapGram::RealSquare a;
    tg.real_gram(f, g, a, scratch);
    return Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd>(a, Eigen::EigenvaluesOnly).eigenvalues();
  }
  TapGram::ComplexSquare a;
  tg.gram(f, g, a, scratch);
  return Eigen::SelfAdjointEigenSolver<Eigen::MatrixXcd>(a, Eigen::EigenvaluesOnly).eigenvalues();
}

/// Every singular value the tap Gram matrices give, with multiplicities, descending.
std::vector<double> tap_singular_values(const ConvSpec& spec, const std::vector<double>& w) {
  const ForwardConv f = forward_conv(spec);
  const TapGram tg(w.data(), f, f.input, 1);
  TapGram::Scratch scratch;
  std::vector<double> out;
  for (Index k = 0; k < tg.frequency_count(); ++k)
    for (Index g = 0; g < f.groups; ++g) {
      const Eigen::VectorXd l = eigenvalues(tg, k, g, scratch);
      for (int m = 0; m < (tg.self_conjugate(k) ? 1 : 2); ++m)
        for (Index i = 0; i < l.size(); ++i) out.push_back(std::sqrt(std::max(0.0, l[i])));
    }
  std::sort(out.begin(), out.end(), std::greater<double>());
  return out;
}

/// B(ν) of group g from the definition of KernelSpectrum (aliases M(ν + a∘m)/√(s₁s₂), each
/// M(ω) = Σ_t W_t exp(−2πi ω·(t∘d)/N)), in long double.
WideMatrix wide_block(const ConvSpec& spec, const std::vector<double>& w, Extent nu, Index g) {
  const ForwardConv f = forward_conv(spec);
  const Index rows = f.out_channels / f.groups, in_g = f.in_channels / f.groups;
  const Index s1 = f.stride[0], s2 = f.stride[1], n1 = f.input[0], n2 = f.input[1];
  const Index taps = f.kernel[0] * f.kernel[1];
  WideMatrix b = WideMatrix::Zero(rows, in_g * s1 * s2);
  const long double pi = 3.141592653589793238462643383279502884L;
  for (Index a1 = 0; a1 < s1; ++a1)
    for (Index a2 = 0; a2 < s2; ++a2) {
      const Index w1 = nu[0] + a1 * (n1 / s1), w2 = nu[1] + a2 * (n2 / s2);
      for (Index t = 0; t < taps; ++t) {
        const Index p1 = t / f.kernel[1] * f.dilation[0], p2 = t % f.kernel[1] * f.dilation[1];
        const long double angle =
            -2 * pi * ((long double)(w1 * p1 % n1) / n1 + (long double)(w2 * p2 % n2) / n2);
        const Wide phase(std::cos(angle), std::sin(angle));
        for (Index o = 0; o < rows; ++o)
          for (Index i = 0; i < in_g; ++i)
            b(o, (a1 * s2 + a2) * in_g + i) +=
                phase * (long double)w[static_cast<std::size_t>(((g * rows + o) * in_g + i) * taps + t)];
      }
    }
  return b / std::sqrt((long double)(s1 * s2));
}

}  // namespace

TEST_CASE("tap Gram matrices give the dense SVD over random circular layers") {
  std::mt19937_64 rng(20231107);
  for (int trial = 0; trial < 80; ++trial) {
    const ConvSpec spec = random_spec(rng, PaddingMode::circular);
    const auto w = random_weight(spec, rng);
    CAPTURE(trial);
    CAPTURE(spec.groups);
    CAPTURE(spec.transposed);
    CAPTURE(spec.kernel[1]);
    CAPTURE(spec.stride[1]);
    CAPTURE(spec.dilation[1]);
    CAPTURE(spec.input[1]);
    // Eigenvalues of a Gram matrix are accurate to ε·σ₁² absolutely, so a small σ to √ε·σ₁.
    CHECK(spectrum_error(tap_singular_values(spec, w), dense_singular_values(spec, w)) <
          kDoubleTol);
  }
}

TEST_CASE("tap Gram matrices are within rounding_bound() of the definition in long double") {
  std::mt19937_64 rng(99);
  for (int trial = 0; trial < 40; ++trial) {
    const ConvSpec spec = random_spec(rng, PaddingMode::circular);
    const auto w = random_weight(spec, rng);
    const ForwardConv f = forward_conv(spec);
    const TapGram tg(w.data(), f, f.input, 2);
    TapGram::Scratch scratch;
    CAPTURE(trial);
    for (Index k = 0; k < tg.frequency_count(); ++k)
      for (Index g = 0; g < f.groups; ++g) {
        const WideMatrix b = wide_block(spec, w, tg.frequency(k), g);
        const bool rows = b.rows() <= b.cols();
        CHECK(tg.rows() == rows);
        const WideMatrix want = rows ? WideMatrix(b * b.adjoint()) : WideMatrix(b.adjoint() * b);
        TapGram::ComplexSquare got;
        if (tg.self_conjugate(k)) {
          TapGram::RealSquare r;
          tg.real_gram(k, g, r, scratch);
          got = r.cast<std::complex<double>>();
        } else {
          tg.gram(k, g, got, scratch);
        }
        REQUIRE(got.rows() == want.rows());
        CHECK(got.triangularView<Eigen::StrictlyUpper>().toDenseMatrix().isZero(0));
        // The trace from the coefficients' traces, without the Gram matrix: the Frobenius
        // bound of the σ₁ search's phase 1, within its documented error.
        const long double exact_trace = want.trace().real();
        CHECK(std::abs((long double)tg.trace(k, g) - exact_trace) <=
              (long double)(double(tg.side() + 1) * tg.rounding_bound()));
        const Eigen::MatrixXcd full = got.selfadjointView<Eigen::Lower>();
        if (rows) {
          // B Bᴴ does not depend on the basis of B's columns: the same matrix, entry by entry.
          long double err = 0;
          for (Index i = 0; i < full.rows(); ++i)
            for (Index j = 0; j < full.cols(); ++j)
              err += std::norm(Wide(full(i, j)) - want(i, j));
          CHECK(double(std::sqrt(err)) <= tg.rounding_bound());  // ‖·‖₂ ≤ ‖·‖_F
        }
        // Either side: the eigenvalues move by at most ‖fl(G) − G‖₂ (Weyl), plus the solver's
        // backward error on the double matrix.
        const Eigen::VectorXd lg =
            Eigen::SelfAdjointEigenSolver<Eigen::MatrixXcd>(full, Eigen::EigenvaluesOnly)
                .eigenvalues();
        const Eigen::VectorXd lw =
            Eigen::SelfAdjointEigenSolver<Eigen::MatrixXcd>(want.cast<std::complex<double>>(),
                                                            Eigen::EigenvaluesOnly)
                .eigenvalues();
        const double solver = 64 * 2.3e-16 * double(full.rows()) * lw.cwiseAbs().maxCoeff();
        CHECK((lg - lw).cwiseAbs().maxCoeff() <= tg.rounding_bound() + 2 * solver);
      }
  }
}

TEST_CASE("certified sigma_1 from tap Gram matrices brackets the dense value") {
  std::mt19937_64 rng(5150);
  for (int trial = 0; trial < 60; ++trial) {
    const PaddingMode mode = trial % 3 == 0 ? PaddingMode::zeros : PaddingMode::circular;
    const ConvSpec spec = random_spec(rng, mode);
    const auto w = random_weight(spec, rng);
    const double truth = dense_singular_values(spec, w).front();
    CAPTURE(trial);
    ConvNormOptions o;
    o.gram_source = GramSource::taps;
    o.dense_limit = 0;  // zero padding through the torus bound, not the dense SVD
    const ConvNormResult r = analyze_conv(spec, w.data(), o);
    CHECK(r.gram_from_taps);
    CHECK(r.lower_bound <= truth * (1 + kReferenceSlack));
    CHECK(r.upper_bound >= truth * (1 - kReferenceSlack));
    if (mode == PaddingMode::circular) {
      CHECK(r.upper_bound - r.lower_bound <= 1e-6 * truth * (1 + 1e-9));
      // The same torus search from the blocks: the same σ₁ within both widths.
      o.gram_source = GramSource::blocks;
      const ConvNormResult b = analyze_conv(spec, w.data(), o);
      CHECK_FALSE(b.gram_from_taps);
      CHECK(b.lower_bound <= r.upper_bound);
      CHECK(r.lower_bound <= b.upper_bound);
    }
  }
}

TEST_CASE("tap Gram search on wider layers: blocks settled by the Cholesky test, Lanczos on G") {
  std::mt19937_64 rng(31337);
  // 72 channels: Gram matrices above kLanczosMinSize, so blocks that may hold σ₁ go through
  // Lanczos on G; stride 2 (rows side) and a 4-channel stride-2 layer (columns side).
  const ConvSpec specs[] = {square_conv2d(72, 72, 3, 6, PaddingMode::circular),
                            [] {
                              ConvSpec s = square_conv2d(80, 24, 4, 8, PaddingMode::circular);
                              s.stride = {2, 2};
                              return s;
                            }(),
                            [] {
                              ConvSpec s = square_conv2d(96, 4, 4, 12, PaddingMode::circular);
                              s.stride = {2, 2};
                              return s;
                            }()};
  for (const ConvSpec& s : specs) {
    const auto w = random_weight(s, rng);
    const double truth = dense_sigma1(s, w);
    const ForwardConv f = forward_conv(s);
    const KernelSpectrum<double> ks(w.data(), f, f.input, 0, SpectrumStorage::on_demand);
    const TapGram tg(w.data(), f, f.input);
    const NormBounds b = circular_norm_bounds(ks, tg);
    CAPTURE(s.weight_dim0);
    CHECK(b.lower <= truth * (1 + kReferenceSlack));
    CHECK(b.upper >= truth * (1 - kReferenceSlack));
    CHECK(b.upper - b.lower <= 1e-6 * truth * (1 + 1e-9));
    CHECK(b.pruned + b.settled + b.resolved == b.blocks);
    CHECK(b.settled > 0);
    // Gram matrices above 64 (not the columns-side layer's 16): the blocks that may hold σ₁
    // went through Lanczos on G.
    if (tg.side() > 64) CHECK(b.lanczos > 0);
  }
}

TEST_CASE("Gram source: the cost model, float, and the full spectrum") {
  std::mt19937_64 rng(4);
  // Many frequencies, a 3×3 kernel: taps are cheaper; four frequencies of a wide layer: blocks.
  CHECK(TapGram::preferred(forward_conv(square_conv2d(64, 64, 3, 56, PaddingMode::circular)),
                           {56, 56}));
  CHECK_FALSE(TapGram::preferred(
      forward_conv(square_conv2d(512, 512, 3, 4, PaddingMode::circular)), {4, 4}));
  const ConvSpec s = square_conv2d(8, 8, 3, 10, PaddingMode::circular);
  const auto w = random_weight(s, rng);
  ConvNormOptions o;
  o.gram_source = GramSource::taps;
  CHECK(analyze_conv(s, w.data(), o).gram_from_taps);
  // Float computes from the blocks (TapGram's bound assumes double); so does the full spectrum.
  const std::vector<float> wf(w.begin(), w.end());
  CHECK_FALSE(analyze_conv(s, wf.data(), o).gram_from_taps);
  o.all_singular_values = true;
  CHECK_FALSE(analyze_conv(s, w.data(), o).gram_from_taps);
  CHECK(gram_source_from_string("auto") == GramSource::automatic);
  CHECK(to_string(GramSource::taps) == "taps");
  CHECK_THROWS_AS(gram_source_from_string("fft"), std::invalid_argument);
}
