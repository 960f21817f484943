#pragma once
// Test helper: the dense matrix of a convolution layer built straight from PyTorch's definition
// (an independent reference for the FFT-based engine), its SVD, and random inputs.

#include <lipschitz/conv_spec.hpp>

#include <Eigen/Dense>
#include <Eigen/SVD>

#include <algorithm>
#include <random>
#include <vector>

namespace lipschitz::test {

/// The layer's matrix, rows = output (c, y, x) row-major, columns = input (c, y, x) row-major:
///   y[o, j] = Σ_{i in group(o), t} W[o, i', t] · x[i, j·s + t·d − p]   (zero outside, or mod n)
/// and for a transposed layer the transpose of the convolution from its output size back.
inline Eigen::MatrixXd dense_operator(const ConvSpec& spec, const std::vector<double>& w) {
  const bool circ = spec.padding_mode == PaddingMode::circular;
  // Geometry of the underlying forward convolution.
  const Index co = spec.weight_dim0, ci_g = spec.weight_dim1, g = spec.groups;
  const Index ci = ci_g * g, co_g = co / g;
  const Extent n = spec.transposed ? output_size(spec) : spec.input;
  Extent m;
  for (int a = 0; a < 2; ++a)
    m[a] = circ ? n[a] / spec.stride[a]
                : (n[a] + 2 * spec.padding[a] - ((spec.kernel[a] - 1) * spec.dilation[a] + 1)) /
                          spec.stride[a] +
                      1;
  Eigen::MatrixXd a = Eigen::MatrixXd::Zero(co * m[0] * m[1], ci * n[0] * n[1]);
  for (Index o = 0; o < co; ++o)
    for (Index il = 0; il < ci_g; ++il) {
      const Index i = (o / co_g) * ci_g + il;
      for (Index t1 = 0; t1 < spec.kernel[0]; ++t1)
        for (Index t2 = 0; t2 < spec.kernel[1]; ++t2) {
          const double v = w[static_cast<std::size_t>(
              ((o * ci_g + il) * spec.kernel[0] + t1) * spec.kernel[1] + t2)];
          for (Index j1 = 0; j1 < m[0]; ++j1)
            for (Index j2 = 0; j2 < m[1]; ++j2) {
              Index y = j1 * spec.stride[0] + t1 * spec.dilation[0] - (circ ? 0 : spec.padding[0]);
              Index x = j2 * spec.stride[1] + t2 * spec.dilation[1] - (circ ? 0 : spec.padding[1]);
              if (circ) {
                y %= n[0];
                x %= n[1];
              } else if (y < 0 || y >= n[0] || x < 0 || x >= n[1]) {
                continue;
              }
              a((o * m[0] + j1) * m[1] + j2, (i * n[0] + y) * n[1] + x) += v;
            }
        }
    }
  if (spec.transposed) a.transposeInPlace();
  return a;
}

/// All singular values of the dense operator, descending.
inline std::vector<double> dense_singular_values(const ConvSpec& spec,
                                                 const std::vector<double>& w) {
  const Eigen::MatrixXd a = dense_operator(spec, w);
  // JacobiSVD, not BDCSVD: Eigen 3.4.0's BDCSVD returns wrong values when singular values
  // repeat (as they do for every convolution) on matrices larger than 16.
  Eigen::JacobiSVD<Eigen::MatrixXd> svd(a);
  const Eigen::VectorXd s = svd.singularValues();
  return std::vector<double>(s.data(), s.data() + s.size());
}

/// σ₁ of the dense operator through the eigenvalues of the smaller Gram matrix (for sizes where
/// a Jacobi SVD would be slow); accurate to ε·σ₁.
inline double dense_sigma1(const ConvSpec& spec, const std::vector<double>& w) {
  const Eigen::MatrixXd a = dense_operator(spec, w);
  const Eigen::MatrixXd g = a.rows() <= a.cols() ? Eigen::MatrixXd(a * a.transpose())
                                                 : Eigen::MatrixXd(a.transpose() * a);
  Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> es(g, Eigen::EigenvaluesOnly);
  return std::sqrt(std::max(0.0, es.eigenvalues().maxCoeff()));
}

/// A square 2-D convolution `c_in → c_out`, `k × k` kernel, on `n × n` inputs.
inline ConvSpec square_conv2d(Index c_out, Index c_in, Index k, Index n,
                              PaddingMode mode = PaddingMode::zeros) {
  ConvSpec s;
  s.weight_dim0 = c_out;
  s.weight_dim1 = c_in;
  s.kernel = {k, k};
  s.input = {n, n};
  s.padding_mode = mode;
  return s;
}

/// Max |a_i − b_i| / σ₁ of two descending spectra (σ₁ = want[0]); a shorter list counts as
/// padded with zeros, so a missing or extra nonzero value shows up.
inline double spectrum_error(const std::vector<double>& got, const std::vector<double>& want) {
  const double s1 = want.empty() ? 1.0 : std::max(want.front(), 1e-300);
  double err = 0;
  const std::size_t n = std::max(got.size(), want.size());
  for (std::size_t i = 0; i < n; ++i) {
    const double a = i < got.size() ? got[i] : 0.0, b = i < want.size() ? want[i] : 0.0;
    err = std::max(err, std::abs(a - b) / s1);
  }
  return err;
}

/// Seeded N(0, 1) weights for the spec.
inline std::vector<double> random_weight(const ConvSpec& spec, std::mt19937_64& rng) {
  std::normal_distribution<double> normal;
  std::vector<double> w(static_cast<std::size_t>(weight_size(spec)));
  for (double& v : w) v = normal(rng);
  return w;
}

/// A random valid layer: 1-D or 2-D, conv or transposed, zeros or circular, with stride,
/// dilation, groups, kernels larger than the input, kept small enough for a dense SVD.
inline ConvSpec random_spec(std::mt19937_64& rng, PaddingMode mode) {
  auto pick = [&rng](Index lo, Index hi) {
    return std::uniform_int_distribution<Index>(lo, hi)(rng);
  };
  for (;;) {
    ConvSpec s;
    s.spatial_dims = pick(0, 3) == 0 ? 1 : 2;
    s.padding_mode = mode;
    s.transposed = pick(0, 3) == 0;
    s.groups = pick(0, 3) == 0 ? pick(2, 3) : 1;
    s.weight_dim0 = s.groups * pick(1, 3);
    s.weight_dim1 = pick(1, 3);
    const int first = s.spatial_dims == 1 ? 1 : 0;
    for (int a = first; a < 2; ++a) {
      s.kernel[a] = pick(1, 4);
      s.stride[a] = pick(0, 2) == 0 ? pick(2, 3) : 1;
      s.dilation[a] = pick(0, 3) == 0 ? 2 : 1;
      s.padding[a] = mode == PaddingMode::zeros ? pick(0, 2) : 0;
      s.input[a] =
          mode == PaddingMode::circular && !s.transposed ? s.stride[a] * pick(1, 4) : pick(1, 7);
    }
    try {
      validate(s);
    } catch (const std::invalid_argument&) {
      continue;
    }
    const Extent out = output_size(s);
    const Index in_dim = in_channels(s) * s.input[0] * s.input[1];
    const Index out_dim = out_channels(s) * out[0] * out[1];
    if (in_dim <= 160 && out_dim <= 160) return s;
  }
}

/// Relative error with an absolute floor: |a − b| / max(|b|, floor).
inline double rel_err(double a, double b, double floor = 1e-300) {
  return std::abs(a - b) / std::max(std::abs(b), floor);
}

}  // namespace lipschitz::test
