// Tests kernel_spectrum.hpp: M(ω) against the DFT sum written out, wrapping taps, folding.
#include <doctest/doctest.h>
#include <lipschitz/kernel_spectrum.hpp>

#include "dense_reference.hpp"
#include "tolerances.hpp"

#include <cmath>
#include <complex>

using namespace lipschitz;

namespace {
// M(u, v)[o, i] = Σ_t K[o, i, t] exp(−2πi (u t₁d₁/N₁ + v t₂d₂/N₂)), summed directly.
std::complex<double> naive_entry(const ForwardConv& c, const std::vector<double>& w,
                                 const Extent& n, Index u, Index v, Index o, Index i) {
  const double pi = std::acos(-1.0);
  std::complex<double> acc = 0;
  const Index ci_g = c.in_channels / c.groups;
  for (Index t1 = 0; t1 < c.kernel[0]; ++t1)
    for (Index t2 = 0; t2 < c.kernel[1]; ++t2) {
      const double phase = -2 * pi *
                           (double(u * t1 * c.dilation[0]) / double(n[0]) +
                            double(v * t2 * c.dilation[1]) / double(n[1]));
      acc += w[static_cast<std::size_t>(((o * ci_g + i) * c.kernel[0] + t1) * c.kernel[1] + t2)] *
             std::polar(1.0, phase);
    }
  return acc;
}
}  // namespace

TEST_CASE("per-frequency matrices equal the DFT of the kernel, taps wrapping past the torus") {
  std::mt19937_64 rng(7);
  ForwardConv c;
  c.out_channels = 4;
  c.in_channels = 6;
  c.groups = 2;
  c.kernel = {3, 5};
  c.dilation = {1, 2};  // k_eff = 3 x 9 on a 2 x 4 torus: taps wrap in both directions
  std::vector<double> w(4 * 3 * 3 * 5);
  std::normal_distribution<double> normal;
  for (double& x : w) x = normal(rng);
  const Extent n{2, 4};
  for (const SpectrumStorage storage : {SpectrumStorage::stored, SpectrumStorage::on_demand}) {
    const KernelSpectrum<double> ks(w.data(), c, n, 0, storage);
    CHECK(ks.stored() == (storage == SpectrumStorage::stored));
    double err = 0;
    for (Index u = 0; u < n[0]; ++u)
      for (Index v = 0; v < n[1]; ++v)
        for (Index o = 0; o < 4; ++o)
          for (Index i = 0; i < 3; ++i)
            err = std::max(err, std::abs(ks.entry(u, v, o, i) - naive_entry(c, w, n, u, v, o, i)));
    INFO(err);
    CHECK(err < 1e-12);
  }
}

TEST_CASE("blocks computed on demand equal the stored ones (direct sum and FFT)") {
  std::mt19937_64 rng(77);
  std::normal_distribution<double> normal;
  ForwardConv c;
  c.out_channels = 6;
  c.in_channels = 4;
  c.groups = 2;
  // 3×5 taps (stored by direct sum) and 9×9 dilated (stored by FFT, taps wrapping the torus).
  for (const Extent kernel : {Extent{3, 5}, Extent{9, 9}})
    for (const Extent stride : {Extent{1, 1}, Extent{2, 3}}) {
      c.kernel = kernel;
      c.dilation = {1, kernel[0] == 9 ? 2 : 1};
      c.stride = stride;
      std::vector<double> w(static_cast<std::size_t>(6 * 2 * kernel[0] * kernel[1]));
      for (double& x : w) x = normal(rng);
      const Extent torus{12, 12};
      const KernelSpectrum<double> stored(w.data(), c, torus, 0, SpectrumStorage::stored);
      const KernelSpectrum<double> lazy(w.data(), c, torus, 0, SpectrumStorage::on_demand);
      REQUIRE(stored.frequency_count() == lazy.frequency_count());
      for (Index f = 0; f < stored.frequency_count(); ++f)
        for (Index g = 0; g < 2; ++g) {
          KernelSpectrum<double>::Matrix a, b;
          stored.block(f, g, a);
          lazy.block(f, g, b);
          CAPTURE(f);
          CHECK((a - b).cwiseAbs().maxCoeff() < 1e-12 * stored.norm_scale());
          if (stored.self_conjugate(f)) {
            KernelSpectrum<double>::RealMatrix ra, rb;
            stored.real_block(f, g, ra);
            lazy.real_block(f, g, rb);
            CHECK((ra - rb).cwiseAbs().maxCoeff() < 1e-12 * stored.norm_scale());
          }
        }
    }
}

TEST_CASE("the half grid with multiplicities covers the folded grid once") {
  ForwardConv c;
  c.out_channels = c.in_channels = 1;
  c.stride = {2, 3};
  std::vector<double> w{1.0};
  for (Index n1 : {2, 4, 6})
    for (Index n2 : {3, 6, 9, 12}) {
      const KernelSpectrum<double> ks(w.data(), c, {n1, n2});
      Index total = 0;
      for (Index f = 0; f < ks.frequency_count(); ++f) total += ks.multiplicity(f);
      CHECK(total == (n1 / 2) * (n2 / 3));
    }
}

TEST_CASE("a torus that the stride does not divide is refused") {
  ForwardConv c;
  c.out_channels = c.in_channels = 1;
  c.stride = {2, 2};
  std::vector<double> w{1.0};
  CHECK_THROWS_WITH_AS(
      KernelSpectrum<double>(w.data(), c, {4, 5}),
      "torus size must be a positive multiple of the stride: torus = 5, stride = 2",
      std::invalid_argument);
}

TEST_CASE("each pair {nu, -nu} of the folded grid is listed once, self-conjugate ones alone") {
  ForwardConv c;
  c.out_channels = c.in_channels = 1;
  std::vector<double> w{1.0};
  for (const Extent stride : {Extent{1, 1}, Extent{2, 3}})
    for (Index n1 : {6, 12})
      for (Index n2 : {6, 9, 12}) {
        c.stride = stride;
        const KernelSpectrum<double> ks(w.data(), c, {n1, n2});
        const Extent m = ks.folded();
        std::vector<int> seen(static_cast<std::size_t>(m[0] * m[1]), 0);
        for (Index f = 0; f < ks.frequency_count(); ++f) {
          const Extent nu = ks.frequency(f);
          const Index neg0 = (m[0] - nu[0]) % m[0], neg1 = (m[1] - nu[1]) % m[1];
          const bool self = nu[0] == neg0 && nu[1] == neg1;
          CHECK(ks.self_conjugate(f) == self);
          CHECK(ks.multiplicity(f) == (self ? 1 : 2));
          ++seen[static_cast<std::size_t>(nu[0] * m[1] + nu[1])];
          if (!self) ++seen[static_cast<std::size_t>(neg0 * m[1] + neg1)];
        }
        for (int s : seen) CHECK(s == 1);
      }
}

TEST_CASE("a self-conjugate frequency's real block has the singular values of its complex block") {
  std::mt19937_64 rng(31);
  std::normal_distribution<double> normal;
  ForwardConv c;
  c.out_channels = 6;
  c.in_channels = 4;
  c.groups = 2;
  c.kernel = {3, 4};
  for (const Extent stride : {Extent{1, 1}, Extent{2, 2}, Extent{2, 3}, Extent{3, 1}})
    for (const Extent torus : {Extent{6, 6}, Extent{12, 6}, Extent{6, 12}}) {
      c.stride = stride;
      std::vector<double> w(static_cast<std::size_t>(6 * 2 * 12));
      for (double& x : w) x = normal(rng);
      const KernelSpectrum<double> ks(w.data(), c, torus);
      Index checked = 0;
      for (Index f = 0; f < ks.frequency_count(); ++f) {
        if (!ks.self_conjugate(f)) continue;
        for (Index g = 0; g < 2; ++g) {
          KernelSpectrum<double>::Matrix b;
          KernelSpectrum<double>::RealMatrix r;
          ks.block(f, g, b);
          ks.real_block(f, g, r);
          const Eigen::VectorXd want = Eigen::JacobiSVD<Eigen::MatrixXcd>(b).singularValues();
          const Eigen::VectorXd got = Eigen::JacobiSVD<Eigen::MatrixXd>(r).singularValues();
          CAPTURE(f);
          CHECK((got - want).cwiseAbs().maxCoeff() < 1e-12 * want(0));
          ++checked;
        }
      }
      CHECK(checked > 0);
      CHECK_THROWS_AS(
          [&] {
            KernelSpectrum<double>::RealMatrix r;
            for (Index f = 0; f < ks.frequency_count(); ++f)
              if (!ks.self_conjugate(f)) ks.real_block(f, 0, r);
          }(),
          std::invalid_argument);
    }
}
