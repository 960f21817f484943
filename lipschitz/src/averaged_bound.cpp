#include <lipschitz/averaged_bound.hpp>

#include <lipschitz/dense_norm.hpp>

#include <cmath>
#include <limits>

namespace lipschitz {
namespace {

using Matrix = Eigen::MatrixXd;
constexpr double kEps = std::numeric_limits<double>::epsilon();
constexpr double kInf = std::numeric_limits<double>::infinity();

// A product of matrices formed in floating point, with what bounds its rounding: for t
// factors of inner dimensions ≤ n, |fl(P) − P| ≤ ((1 + γ_n)^t − 1)·|A_1|⋯|A_t| entrywise
// (Higham §3.5), so ‖fl(P) − P‖₂ ≤ that factor times ‖|A_1|⋯|A_t|‖_F.
struct Product {
  Matrix value, magnitude;
  double relative = 0;  // (1 + γ)^t − 1 so far
};

void multiply_right(Product& p, const Matrix& a, const Eigen::VectorXd* diag_before) {
  // p ← p · diag · a: the diagonal scaling is one rounding per entry, the product γ_n.
  Matrix left = p.value, left_abs = p.magnitude;
  if (diag_before) {
    left = left * diag_before->asDiagonal();
    left_abs = left_abs * diag_before->cwiseAbs().asDiagonal();
  }
  const double n = double(a.rows()) + 1;
  p.value = left * a;
  p.magnitude = left_abs * a.cwiseAbs();
  p.relative = (1 + p.relative) * (1 + n * kEps / (1 - n * kEps)) - 1;
}

double certified_upper(const Product& p) {
  const double margin = p.relative * (1 + 1e-6) * p.magnitude.norm() * (1 + 4 * kEps);
  return certified_spectral_norm(p.value).upper + margin;
}

bool finite(const AffineChain& chain) {
  for (const Matrix& w : chain.weights)
    if (!w.allFinite()) return false;
  return true;
}

}  // namespace

double averaged_scalar_bound(const std::vector<std::vector<double>>& norm,
                             const std::vector<SlopeRange>& slopes) {
  const int m = static_cast<int>(norm.size()) - 1;
  if (m <= 0) return 0;
  // a_m for the splits σ_j = c_j·id + b_j·Q (activation j at c[j], j = 1 … m−1).
  const auto evaluate = [&](const std::vector<double>& c) {
    std::vector<double> a(m + 1, 0);
    for (int k = 1; k <= m; ++k) {
      double through = 1, sum = 0;  // Π |c_i| over the activations between j and k
      for (int j = k - 1; j >= 1; --j) {
        const SlopeRange& r = slopes[j - 1];
        const double b = std::max(r.upper - c[j], c[j] - r.lower) * (1 + 2 * kEps);
        if (b > 0) sum += b * through * norm[k][j] * a[j];
        through *= std::abs(c[j]);
      }
      a[k] = (through * norm[k][0] + sum) * (1 + 4 * kEps * k);
    }
    return std::isnan(a[m]) ? kInf : a[m];
  };
  std::vector<double> c(m, 1);
  for (int j = 1; j < m; ++j) c[j] = (slopes[j - 1].lower + slopes[j - 1].upper) / 2;
  return evaluate(c);
}

double averaged_activation_bound(const AffineChain& chain, const NeuronSlopes& slopes) {
  const int m = chain.depth();
  if (m == 0) return 0;
  if (!finite(chain)) return kInf;
  std::vector<Eigen::VectorXd> c(m - 1), b(m - 1);
  for (int j = 0; j + 1 < m; ++j) {
    c[j] = (slopes.lower[j] + slopes.upper[j]) / 2;
    b[j] = (slopes.upper[j] - slopes.lower[j]) / 2;
    // The halves are exact in binary; rounding of the difference is covered by rounding b up.
    b[j] = b[j].cwiseAbs() * (1 + 2 * kEps);
  }
  // a[k] bounds the Lipschitz constant of x ↦ z_k, layer k's pre-activation (k = 1 … m).
  std::vector<double> a(m + 1, 0);
  for (int k = 1; k <= m; ++k) {
    // P runs from W_k down: after step j it is W_k C_{k−1} W_{k−1} ⋯ C_j W_j.
    Product p{chain.weights[k - 1], chain.weights[k - 1].cwiseAbs(), 0};
    double sum = 0;
    for (int j = k - 1; j >= 1; --j) {
      // The term through σ_j's nonexpansive part: ‖P · B_j‖ a_j (σ_j sits after W_j).
      if (b[j - 1].maxCoeff() > 0 && a[j] > 0) {
        Product pb{p.value * b[j - 1].asDiagonal(), p.magnitude * b[j - 1].asDiagonal(),
                   (1 + p.relative) * (1 + kEps) - 1};
        sum += certified_upper(pb) * a[j];
      }
      multiply_right(p, chain.weights[j - 1], &c[j - 1]);
    }
    a[k] = (certified_upper(p) + sum) * (1 + 4 * kEps * k);
  }
  return a[m];
}

double pattern_norm_bound(const AffineChain& chain, const std::vector<Eigen::VectorXd>& d) {
  const int m = chain.depth();
  if (m == 0) return 0;
  if (!finite(chain)) return kInf;
  Product p{chain.weights[m - 1], chain.weights[m - 1].cwiseAbs(), 0};
  for (int j = m - 1; j >= 1; --j) multiply_right(p, chain.weights[j - 1], &d[j - 1]);
  return certified_upper(p) * (1 + 4 * kEps);
}

double chain_product_bound(const AffineChain& chain, const NeuronSlopes& slopes) {
  if (!finite(chain)) return kInf;
  double bound = 1;
  for (int k = 0; k < chain.depth(); ++k) {
    bound *= certified_spectral_norm(chain.weights[k]).upper;
    if (k + 1 < chain.depth())
      bound *= std::max(slopes.lower[k].cwiseAbs().maxCoeff(), slopes.upper[k].cwiseAbs().maxCoeff());
  }
  return bound * (1 + 4 * kEps * chain.depth());
}

}  // namespace lipschitz
