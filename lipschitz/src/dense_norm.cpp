#include <lipschitz/dense_norm.hpp>

#include <lipschitz/cholesky_bound.hpp>

#include <Eigen/Eigenvalues>

#include <cmath>
#include <limits>

namespace lipschitz {
namespace {

constexpr double kEps = std::numeric_limits<double>::epsilon();

// γ_n = nε/(1 − nε) (Higham (3.8)), the relative error bound of an n-term dot product.
double gamma(double n) { return n * kEps / (1 - n * kEps); }

}  // namespace

DenseNorm certified_spectral_norm(const Eigen::MatrixXd& a) {
  DenseNorm r;
  if (a.size() == 0) return r;
  const double n = double(std::max(a.rows(), a.cols()));
  if (a.rows() == 1 || a.cols() == 1) {
    // ‖a‖₂ of a vector: a sum of n squares and a square root.
    const double norm = a.norm();
    r.lower = norm * (1 - gamma(n + 2));
    r.upper = norm * (1 + gamma(n + 2));
    return r;
  }
  const bool wide = a.rows() <= a.cols();
  const Eigen::MatrixXd g = wide ? Eigen::MatrixXd(a * a.transpose()) : Eigen::MatrixXd(a.transpose() * a);
  const Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> eig(g);
  const Eigen::Index top = g.rows() - 1;
  const double lambda = std::max(0.0, eig.eigenvalues()(top));
  const Eigen::VectorXd v = eig.eigenvectors().col(top);
  const double av = wide ? (a.transpose() * v).norm() : (a * v).norm();
  r.lower = av / v.norm() * (1 - gamma(n + double(g.rows()) + 4));

  // λ_max(fl(G)) ≤ μ, certified by one factorisation; then the product's own rounding:
  // |fl(G) − G| ≤ γ_n |A|ᵀ|A| entrywise, whose 2-norm is at most γ_n ‖A‖_F².
  CholeskyWork<double> work;
  const double scale = std::max(lambda, std::numeric_limits<double>::min());
  double certified = std::numeric_limits<double>::infinity();
  // cholesky_bound aims 1e-9 below its target: 2e-9 above λ̂ leaves μ above λ_max.
  for (double slack = 2e-9; slack < 1 && !std::isfinite(certified); slack *= 10)
    certified = cholesky_bound<double>(g, scale * (1 + slack), r.lower * r.lower, work);
  if (!std::isfinite(certified)) {  // cannot happen for a finite matrix; stay sound regardless
    certified = g.cwiseAbs().rowwise().sum().maxCoeff();
  }
  const double frobenius = a.norm() * (1 + gamma(n));
  r.upper = std::sqrt(certified + gamma(n) * frobenius * frobenius) * (1 + 2 * kEps);
  return r;
}

}  // namespace lipschitz
