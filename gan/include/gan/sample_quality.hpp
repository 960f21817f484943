#pragma once
/// \file sample_quality.hpp
/// Sample-quality metrics for generative models on plain Eigen data: mode coverage on Gaussian
/// mixtures, the sliced Wasserstein-2 distance, the Fréchet distance between Gaussians (the
/// FID formula) and the Inception-style score. Rows are samples, columns are coordinates
/// (features, classes). No LibTorch here: the trainer copies tensors into Eigen matrices.
///
/// Generated data is a training *result*, so non-finite samples are not errors: they count as
/// low quality in mode_coverage() and make the other metrics return NaN. Broken preconditions on
/// shapes and parameters throw std::invalid_argument naming the constraint and the value given.

#include <Eigen/Core>

#include <cstdint>
#include <vector>

namespace lipschitz::gan {

/// Result of mode_coverage().
struct ModeCoverage {
  int modes_covered = 0;  ///< modes that are the nearest mode of ≥ 1 high-quality sample
  int modes_total = 0;    ///< number of modes (rows of `modes`)
  double high_quality_fraction = 0;        ///< high-quality samples / all samples, in [0, 1]
  std::vector<int> high_quality_per_mode;  ///< high-quality samples whose nearest mode is this one
};

/// Mode coverage on a mixture of isotropic Gaussians with common standard deviation `sigma`
/// (VEEGAN, Srivastava et al. 2017; PacGAN, Lin et al. 2018; ALGORITHMS.md §7). A sample is
/// *high quality* if its Euclidean distance to its nearest mode is ≤ `sigmas`·`sigma` (the
/// boundary is inclusive: a sample exactly 3σ away counts); a mode is *covered* if it is the
/// nearest mode of at least one high-quality sample. Ties between equidistant modes go to the
/// lower row index. Samples with a NaN or infinite coordinate have no nearest mode and count as
/// low quality. The literature evaluates 2,500 samples. Cost O(samples · modes · dimension).
///
/// \param samples  n × d, n ≥ 1, d ≥ 1 (any values)
/// \param modes    k × d mode centres, k ≥ 1, finite
/// \param sigma    standard deviation of each mixture component, finite and > 0
/// \param sigmas   radius of the high-quality ball in units of σ, finite and > 0
///
/// Example (the WGAN-GP 8 Gaussians: radius 2/1.414, σ = 0.02/1.414):
/// \code
///   ModeCoverage c = mode_coverage(generated, modes, 0.02 / 1.414);
///   std::cout << c.modes_covered << "/" << c.modes_total << " modes, "
///             << 100 * c.high_quality_fraction << "% high quality\n";
/// \endcode
ModeCoverage mode_coverage(const Eigen::MatrixXd& samples, const Eigen::MatrixXd& modes,
                           double sigma, double sigmas = 3.0);

/// Sliced Wasserstein-2 distance between the empirical measures of two point clouds (uniform
/// weights; sizes may differ, dimensions must agree):
///
///   SW₂(a, b) = ( (1/P) Σ_p W₂²(⟨u_p, a⟩, ⟨u_p, b⟩) )^{1/2},
///
/// over P = `projections` unit directions u_p drawn uniformly on the sphere (normalised
/// Gaussian vectors from `std::mt19937_64(seed)`; the same directions for a given seed, dimension
/// and standard library). Each 1-D W₂² is exact: ∫₀¹ (F_a⁻¹(t) − F_b⁻¹(t))² dt from the sorted
/// projections, which are step functions, integrated over the merged grid {i/n} ∪ {j/m}.
/// Returns NaN if either cloud has a non-finite coordinate. Cost O(P·(n + m)·(d + log(n + m))).
///
/// \param a, b         n × d and m × d, n, m ≥ 1, d ≥ 1
/// \param projections  P ≥ 1; the Monte-Carlo error of SW₂² falls like 1/√P
/// \param seed         seed of the direction engine
///
/// Example: a translate of a cloud by t is at SW₂ ≈ ‖t‖/√d from it.
/// \code
///   double sw = sliced_wasserstein(generated, real);  // 256 directions, seed 0
/// \endcode
double sliced_wasserstein(const Eigen::MatrixXd& a, const Eigen::MatrixXd& b, int projections = 256,
                          std::uint64_t seed = 0);

/// Mean and covariance of a set of feature vectors.
struct Moments {
  Eigen::VectorXd mean;        ///< length d
  Eigen::MatrixXd covariance;  ///< d × d, symmetric positive semidefinite
};

/// Sample mean and unbiased sample covariance Σ = Σ_i (x_i − μ)(x_i − μ)ᵀ / (n − 1) of the rows
/// of `features` (n × d, n ≥ 2, d ≥ 1). The covariance is exactly symmetric (a rank-n update of
/// one triangle, mirrored). Non-finite features give non-finite moments.
///
/// Example: `double fid = frechet_distance(moments(real_features), moments(fake_features));`
Moments moments(const Eigen::MatrixXd& features);

/// Fréchet distance between the Gaussians N(μ₁, Σ₁) and N(μ₂, Σ₂), the FID formula (Heusel et
/// al. 2017, after Dowson & Landau 1982):
///
///   d² = ‖μ₁ − μ₂‖² + tr(Σ₁ + Σ₂ − 2 (Σ₁^{1/2} Σ₂ Σ₁^{1/2})^{1/2}),
///
/// the squared 2-Wasserstein distance between them (a squared distance: compare its square
/// root across models if you need a metric). Computed with two symmetric eigendecompositions,
/// never the non-symmetric product Σ₁Σ₂, so singular covariances (fewer samples than features)
/// are fine. Returns NaN if any input is non-finite.
///
/// \param a, b  means of equal length d ≥ 1; covariances d × d, symmetric within
///              1e-8·max|Σ| and positive semidefinite within −1e-8·max|λ(Σ)| (rounding only)
///
/// Example: `double fid = frechet_distance(moments(real), moments(fake));`
double frechet_distance(const Moments& a, const Moments& b);

/// Result of inception_score().
struct InceptionScore {
  double mean = 0;  ///< mean score over the splits, in [1, number of classes]
  double std = 0;   ///< population standard deviation over the splits (0 for one split)
};

/// Inception-style score IS = exp(E_x KL(p(y|x) ‖ p(y))) (Salimans et al. 2016), p(y) the mean
/// of the rows within a split. The n rows are cut into `splits` consecutive equal parts, each
/// scored on its own, and the mean and (population, ddof = 0, as the released code's np.std)
/// standard deviation of the scores returned. Terms with p(y|x) = 0 contribute 0. Returns NaN
/// for both if a probability is non-finite.
///
/// \param probabilities  n × K, n ≥ 1, K ≥ 1, entries ≥ 0, each row summing to 1 within 1e-6
/// \param splits         1 ≤ splits, dividing n (the literature uses 10 splits of 5,000)
///
/// Example: `InceptionScore s = inception_score(classifier_softmax, 10);`
InceptionScore inception_score(const Eigen::MatrixXd& probabilities, int splits = 1);

namespace detail {
/// The `projections` unit directions (columns of a d × P matrix) that sliced_wasserstein() uses
/// for dimension `dim` and `seed`; exposed so tests can recompute its value independently.
Eigen::MatrixXd unit_directions(Eigen::Index dim, int projections, std::uint64_t seed);

/// Exact squared W₂ between the uniform empirical measures of two sorted 1-D samples.
double sorted_w2_squared(const double* a, Eigen::Index n, const double* b, Eigen::Index m);
}  // namespace detail

}  // namespace lipschitz::gan
