// The LipSDP-Neuron matrix of an AffineChain and its certificate in floating point
// (lmi_certificate.hpp; the rounding analysis is in the header).
#include <lipschitz/lmi_certificate.hpp>

#include <lipschitz/cholesky_bound.hpp>

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>
#include <utility>

namespace lipschitz {

namespace {

/// u = 2⁻⁵³, the unit roundoff of double.
constexpr double kInfinity = std::numeric_limits<double>::infinity();
constexpr double kUnit = std::numeric_limits<double>::epsilon() / 2;
/// Roundings per entry of M beyond the inner products' lengths: t·α·β (2), the diagonal
/// scaling of W (1), the accumulation into the block (1), the shift by ρ (1), and spare.
constexpr Index kExtraRoundings = 8;
/// The inflation sequence δ_0 = 0, δ_k = kFirstInflation·2^{k−1} (k = 1 … kLastStep).
constexpr int kLastStep = 40;
constexpr double kFirstInflation = 1e-9;

std::string layer_name(std::size_t i) { return "activation layer " + std::to_string(i + 1); }

void check_sizes(const AffineChain& chain, const NeuronSlopes& slopes,
                 const std::vector<Eigen::VectorXd>& multipliers) {
  const int m = chain.depth();
  if (m < 1) throw std::invalid_argument("lipsdp: the chain needs at least one affine map: depth = 0");
  for (int i = 1; i < m; ++i) {
    const auto k = static_cast<std::size_t>(i);
    if (chain.weights[k].cols() != chain.weights[k - 1].rows())
      throw std::invalid_argument("lipsdp: W_" + std::to_string(i + 1) + " must have as many columns as W_" +
                                  std::to_string(i) + " has rows: columns = " +
                                  std::to_string(chain.weights[k].cols()) +
                                  ", rows = " + std::to_string(chain.weights[k - 1].rows()));
  }
  const auto hidden = static_cast<std::size_t>(m - 1);
  if (slopes.lower.size() != hidden || slopes.upper.size() != hidden)
    throw std::invalid_argument("lipsdp: slopes need one vector per activation layer: m - 1 = " +
                                std::to_string(hidden) + ", lower has " +
                                std::to_string(slopes.lower.size()) + ", upper has " +
                                std::to_string(slopes.upper.size()));
  if (multipliers.size() != hidden)
    throw std::invalid_argument("lipsdp: multipliers need one vector per activation layer: m - 1 = " +
                                std::to_string(hidden) + ", given " + std::to_string(multipliers.size()));
  for (std::size_t i = 0; i < hidden; ++i) {
    const Index n = chain.weights[i].rows();
    const auto mismatch = [&](const char* what, Index size) {
      return std::invalid_argument(std::string("lipsdp: ") + what + " of " + layer_name(i) +
                                   " must have one entry per neuron: neurons = " + std::to_string(n) +
                                   ", entries = " + std::to_string(size));
    };
    if (slopes.lower[i].size() != n) throw mismatch("slopes.lower", slopes.lower[i].size());
    if (slopes.upper[i].size() != n) throw mismatch("slopes.upper", slopes.upper[i].size());
    if (multipliers[i].size() != n) throw mismatch("the multipliers", multipliers[i].size());
  }
}

/// Finite weights and slopes with lower ≤ upper, finite multipliers ≥ 0: what the
/// certificate needs of its data besides the sizes.
bool valid_data(const AffineChain& chain, const NeuronSlopes& slopes,
                const std::vector<Eigen::VectorXd>& multipliers) {
  for (const Eigen::MatrixXd& w : chain.weights)
    if (!w.allFinite()) return false;
  for (std::size_t i = 0; i < multipliers.size(); ++i) {
    if (!slopes.lower[i].allFinite() || !slopes.upper[i].allFinite()) return false;
    if ((slopes.lower[i].array() > slopes.upper[i].array()).any()) return false;
    if (!multipliers[i].allFinite() || (multipliers[i].array() < 0).any()) return false;
  }
  return true;
}

/// M̂ as formed in double, and N̂ (the same sums of absolute values) that bounds its error.
/// Only the lower triangle is meaningful (the diagonal blocks are full, the blocks above
/// the diagonal are zero).
struct FormedLmi {
  Eigen::MatrixXd m;
  Eigen::MatrixXd abs;
  Index inner = 0;  ///< K: the most roundings in one entry
};

FormedLmi form_lmi(const AffineChain& chain, const NeuronSlopes& slopes,
                   const std::vector<Eigen::VectorXd>& multipliers, double rho, bool with_abs) {
  const int m = chain.depth();
  const Index d = lipsdp_dimension(chain);
  FormedLmi f;
  f.m = Eigen::MatrixXd::Zero(d, d);
  if (with_abs) f.abs = Eigen::MatrixXd::Zero(d, d);
  const Index n0 = chain.input_dim();
  f.m.topLeftCorner(n0, n0).diagonal().setConstant(-rho);
  if (with_abs) f.abs.topLeftCorner(n0, n0).diagonal().setConstant(std::abs(rho));
  Index prev = 0, inner = 0;  // offset of x_{i−1} in z
  for (int i = 1; i < m; ++i) {
    const auto k = static_cast<std::size_t>(i - 1);
    const Eigen::MatrixXd& w = chain.weights[k];
    const Index rows = w.rows(), cols = w.cols(), cur = prev + cols;
    const Eigen::VectorXd& t = multipliers[k];
    const Eigen::VectorXd a = t.cwiseProduct(slopes.lower[k]).cwiseProduct(slopes.upper[k]);
    const Eigen::VectorXd c = t.cwiseProduct((slopes.lower[k] + slopes.upper[k]) * 0.5);
    f.m.block(cur, cur, rows, rows).diagonal() = -t;                             // −T_i
    f.m.block(prev, prev, cols, cols).noalias() -= w.transpose() * a.asDiagonal() * w;  // −W_iᵀA_iW_i
    f.m.block(cur, prev, rows, cols).noalias() = c.asDiagonal() * w;             // C_i W_i
    if (with_abs) {
      const Eigen::MatrixXd wa = w.cwiseAbs();
      f.abs.block(cur, cur, rows, rows).diagonal() = t.cwiseAbs();
      f.abs.block(prev, prev, cols, cols).noalias() += wa.transpose() * a.cwiseAbs().asDiagonal() * wa;
      f.abs.block(cur, prev, rows, cols).noalias() = c.cwiseAbs().asDiagonal() * wa;
    }
    inner = std::max(inner, rows);
    prev = cur;
  }
  const Eigen::MatrixXd& last = chain.weights.back();
  const Index n_last = last.cols();
  f.m.block(prev, prev, n_last, n_last).noalias() += last.transpose() * last;  // W_mᵀW_m
  if (with_abs) {
    const Eigen::MatrixXd wa = last.cwiseAbs();
    f.abs.block(prev, prev, n_last, n_last).noalias() += wa.transpose() * wa;
  }
  f.inner = std::max(inner, last.rows()) + kExtraRoundings;
  return f;
}

/// ⌊e/2⌋ for any sign of e.
int half_floor(int e) { return e >= 0 ? e / 2 : -((1 - e) / 2); }

/// Proves that the exact M, of which `m` (lower triangle, taken by value: it is rescaled in
/// place) is the formed M̂ with |M − M̂| ≤ γ_K·N̂ entrywise, is negative semidefinite.
bool prove_negative_semidefinite(Eigen::MatrixXd m, const Eigen::MatrixXd& abs, Index inner,
                                 CholeskyWork<double>& work) {
  const Index d = m.rows();
  if (d == 0) return true;
  if (!m.allFinite() || !abs.allFinite()) return false;
  // D = diag(2^{−⌊e_j/2⌋}) with −m_jj = f·2^{e_j}, f ∈ [1/2, 1): (DM̂D)_jj ∈ [−2, −1/4). A
  // negative semidefinite M needs m_jj ≤ 0, and this test a margin, so m_jj < 0.
  Eigen::VectorXd scale(d);
  for (Index j = 0; j < d; ++j) {
    if (!(m(j, j) < 0)) return false;
    int e = 0;
    std::frexp(-m(j, j), &e);
    scale(j) = std::ldexp(1.0, -half_floor(e));
  }
  // Powers of two scale exactly, but for entries pushed below the normal range (each then
  // errs by less than the smallest normal number: d·DBL_MIN in the Frobenius norm).
  double abs_squares = 0;
  for (Index c = 0; c < d; ++c) {
    for (Index r = c; r < d; ++r) {
      const double s = scale(r) * scale(c);
      m(r, c) *= s;
      const double n = abs(r, c) * s;
      abs_squares += (r == c ? 1.0 : 2.0) * n * n;
    }
  }
  const double dd = double(d);
  const double k_u = double(inner) * kUnit;
  if (!(k_u < 0.5)) return false;
  const double gamma = k_u / (1.0 - k_u);
  // ‖ΔM‖₂ ≤ γ_K‖N‖_F; N itself, its squares' sum (2d² terms) and the root were rounded:
  // twice the computed value covers all of it.
  const double formation = 2.0 * gamma * std::sqrt(abs_squares) * (1.0 + 4.0 * (dd * dd + 2.0) * kUnit) +
                           dd * std::numeric_limits<double>::min();
  double diag_abs = 0, max_diag = 0, squares = 0;
  for (Index c = 0; c < d; ++c) {
    diag_abs += std::abs(m(c, c));
    max_diag = std::max(max_diag, std::abs(m(c, c)));
    squares += m(c, c) * m(c, c) + 2.0 * m.col(c).tail(d - c - 1).squaredNorm();
  }
  // The shift σ: A = DM̂D + σI goes to cholesky_bound(), which factorises μI − A for a μ just
  // below the target σ − 2e, keeping 10⁻⁹ of the target in reserve. σ is sized to the
  // factorisation's own rounding (2(d+4)ε·tr(μI − A) and ε·‖A‖_F), four times over, not to
  // DM̂D's diagonal: the test then shows λ_max(DMD) < −(2e + that rounding), not < −10⁻⁹.
  const double eps = std::numeric_limits<double>::epsilon();
  const double c = 2.0 * (dd + 4.0) * eps;
  if (!(c < 0.25)) return false;
  const double rounding = c / (1.0 - c) * diag_abs * 1.001 + 4.0 * eps * std::sqrt(squares);
  const double sigma = 4.0 * (2.0 * (formation + 2.0 * kUnit * max_diag) + rounding);
  double known = -kInfinity;  // λ_max(A) ≥ every a_jj
  double max_shifted = 0, shifted_squares = 0;
  for (Index j = 0; j < d; ++j) {
    m(j, j) += sigma;  // rounded once: ≤ u·|a_jj|
    known = std::max(known, m(j, j));
    max_shifted = std::max(max_shifted, std::abs(m(j, j)));
    shifted_squares += m(j, j) * m(j, j);
  }
  // λ_max(DMD) ≤ λ_max(A) + u·max|a_jj| + ‖ΔM‖ − σ; with λ_max(A) ≤ fl(σ − 2e) ≤ σ − 2e + uσ
  // and e ≥ ‖ΔM‖ + u(σ + max|a_jj|), that is ≤ −e ≤ 0.
  const double e = formation + kUnit * (sigma + max_shifted);
  const double target = sigma - 2.0 * e;
  // cholesky_bound() picks μ for its conversion term ε(‖μI − A‖_F-diagonal + ‖A‖_F) as if
  // 0 ≤ a_jj ≤ μ; here a_jj ≈ −1, so it is asked for a little less (the excess of that term),
  // and what it returns, a certified bound on λ_max(A) either way, is compared with `target`.
  const double ask = target - 2.0 * eps * (std::sqrt(shifted_squares) + std::sqrt(dd) * sigma);
  if (!std::isfinite(sigma) || !std::isfinite(e) || !(ask > 0)) return false;
  return cholesky_bound<double>(m, ask, known, work) <= target;
}

double inflation(int k) { return k == 0 ? 0.0 : std::ldexp(kFirstInflation, k - 1); }

}  // namespace

Index lipsdp_dimension(const AffineChain& chain) {
  Index d = chain.input_dim();
  for (int i = 0; i + 1 < chain.depth(); ++i) d += chain.weights[static_cast<std::size_t>(i)].rows();
  return d;
}

Eigen::MatrixXd lipsdp_matrix(const AffineChain& chain, const NeuronSlopes& slopes,
                              const std::vector<Eigen::VectorXd>& multipliers, double rho) {
  check_sizes(chain, slopes, multipliers);
  const FormedLmi f = form_lmi(chain, slopes, multipliers, rho, false);
  return f.m.selfadjointView<Eigen::Lower>();
}

bool certify_lipsdp(const AffineChain& chain, const NeuronSlopes& slopes,
                    const std::vector<Eigen::VectorXd>& multipliers, double rho) {
  check_sizes(chain, slopes, multipliers);
  if (!std::isfinite(rho) || !(rho >= 0) || !valid_data(chain, slopes, multipliers)) return false;
  const FormedLmi f = form_lmi(chain, slopes, multipliers, rho, true);
  CholeskyWork<double> work;
  return prove_negative_semidefinite(f.m, f.abs, f.inner, work);
}

std::string to_string(RhoSearch search) {
  switch (search) {
    case RhoSearch::rho_only: return "rho_only";
    case RhoSearch::joint: return "joint";
  }
  return "unknown";
}

LipsdpCertificate search_certificate(const AffineChain& chain, const NeuronSlopes& slopes,
                                     const std::vector<Eigen::VectorXd>& multipliers,
                                     double rho_hat, RhoSearch search) {
  check_sizes(chain, slopes, multipliers);
  LipsdpCertificate out;
  if (!std::isfinite(rho_hat) || !(rho_hat > 0) || !valid_data(chain, slopes, multipliers)) return out;
  const Index n0 = chain.input_dim();
  CholeskyWork<double> work;
  // ρ only: M(ρ) = M(0) − ρ·E_00, formed once (the shift's rounding is one of kExtraRoundings).
  FormedLmi base;
  if (search == RhoSearch::rho_only) base = form_lmi(chain, slopes, multipliers, 0.0, true);

  const auto point = [&](int k, double& rho, std::vector<Eigen::VectorXd>& t) {
    const double factor = 1.0 + inflation(k);
    rho = rho_hat * factor;
    t = multipliers;
    if (search == RhoSearch::joint)
      for (Eigen::VectorXd& v : t) v *= factor;
  };
  const auto check = [&](int k) {
    double rho = 0;
    std::vector<Eigen::VectorXd> t;
    point(k, rho, t);
    ++out.checks;
    if (!std::isfinite(rho)) return false;
    bool ok = false;
    if (search == RhoSearch::rho_only) {
      Eigen::MatrixXd m = base.m;
      Eigen::MatrixXd abs = base.abs;
      m.topLeftCorner(n0, n0).diagonal().array() -= rho;
      abs.topLeftCorner(n0, n0).diagonal().array() += rho;
      ok = prove_negative_semidefinite(std::move(m), abs, base.inner, work);
    } else {
      if (!valid_data(chain, slopes, t)) return false;
      const FormedLmi f = form_lmi(chain, slopes, t, rho, true);
      ok = prove_negative_semidefinite(f.m, f.abs, f.inner, work);
    }
    if (ok) {
      out.certified = true;
      out.rho = rho;
      out.multipliers = std::move(t);
    }
    return ok;
  };
  // M(ρ_k) decreases along k: after k = 0 and k = kLastStep, bisect for the first success.
  if (check(0)) return out;
  if (!check(kLastStep)) return out;
  // Successes come at decreasing k, so `out` ends with the smallest.
  int fail = 0, pass = kLastStep;
  while (pass - fail > 1) {
    const int mid = (fail + pass) / 2;
    (check(mid) ? pass : fail) = mid;
  }
  return out;
}

double certified_rho(const AffineChain& chain, const NeuronSlopes& slopes,
                     const std::vector<Eigen::VectorXd>& multipliers, double rho_hat) {
  return search_certificate(chain, slopes, multipliers, rho_hat, RhoSearch::rho_only).rho;
}

}  // namespace lipschitz
