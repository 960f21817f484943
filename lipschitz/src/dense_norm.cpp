#include <lipschitz/dense_norm.hpp>

#include <lipschitz/cholesky_bound.hpp>
#include <lipschitz/lanczos.hpp>

#include <Eigen/Eigenvalues>

#include <cmath>
#include <limits>

namespace lipschitz {
namespace {

constexpr double kEps = std::numeric_limits<double>::epsilon();
/// Gram matrices up to this size get a full eigen-decomposition; larger ones Lanczos.
constexpr Eigen::Index kEigenSolverMaxSize = 192;

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
  double lambda = 0;
  if (g.rows() <= kEigenSolverMaxSize) {
    const Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> eig(g);
    const Eigen::Index top = g.rows() - 1;
    lambda = std::max(0.0, eig.eigenvalues()(top));
    const Eigen::VectorXd v = eig.eigenvectors().col(top);
    const double av = wide ? (a.transpose() * v).norm() : (a * v).norm();
    r.lower = av / v.norm() * (1 - gamma(n + double(g.rows()) + 4));
  } else {
    // Larger: Lanczos on the Gram side (d³/3 for the certificate below instead of the
    // eigen-solver's ~9d³); its value ‖Gᵀ…‖ is recomputed from the Ritz vector, a lower bound.
    struct GramOp {
      const Eigen::MatrixXd& a;
      bool wide;
      Index input_size() const { return wide ? a.rows() : a.cols(); }
      Index output_size() const { return wide ? a.cols() : a.rows(); }
      void apply(const double* x, double* y) const {
        const Eigen::Map<const Eigen::VectorXd> xv(x, input_size());
        Eigen::Map<Eigen::VectorXd>(y, output_size()) = wide ? Eigen::VectorXd(a.transpose() * xv) : Eigen::VectorXd(a * xv);
      }
      void apply_adjoint(const double* y, double* x) const {
        const Eigen::Map<const Eigen::VectorXd> yv(y, output_size());
        Eigen::Map<Eigen::VectorXd>(x, input_size()) = wide ? Eigen::VectorXd(a * yv) : Eigen::VectorXd(a.transpose() * yv);
      }
    } op{a, wide};
    LanczosOptions lo;
    lo.max_steps = 96;
    lo.tolerance = 1e-12;
    const LanczosResult l = lanczos_top_singular_value<double>(op, lo);
    r.lower = l.value * (1 - gamma(n + 4));
    lambda = std::max(l.value, l.ritz) * std::max(l.value, l.ritz);
  }

  // λ_max(fl(G)) ≤ μ, certified by one factorisation; then the product's own rounding:
  // |fl(G) − G| ≤ γ_n |A|ᵀ|A| entrywise, whose 2-norm is at most γ_n ‖A‖_F².
  CholeskyWork<double> work;
  const double scale = std::max(lambda, std::numeric_limits<double>::min());
  double certified = std::numeric_limits<double>::infinity();
  // cholesky_bound aims 1e-9 below its target: 2e-9 above λ̂ leaves μ above λ_max.
  for (double slack = 2e-9; slack < 1e3 && !std::isfinite(certified); slack *= 10)
    certified = cholesky_bound<double>(g, scale * (1 + slack), r.lower * r.lower, work);
  if (!std::isfinite(certified)) {  // cannot happen for a finite matrix; stay sound regardless
    certified = g.cwiseAbs().rowwise().sum().maxCoeff();
  }
  const double frobenius = a.norm() * (1 + gamma(n));
  r.upper = std::sqrt(certified + gamma(n) * frobenius * frobenius) * (1 + 2 * kEps);
  return r;
}

}  // namespace lipschitz
