#pragma once
/// \file circular_spectrum.hpp
/// Singular values and certified spectral norm of a circular (strided) convolution, from the
/// per-frequency blocks of a KernelSpectrum.

#include <lipschitz/kernel_spectrum.hpp>
#include <lipschitz/tap_gram.hpp>

#include <algorithm>
#include <complex>
#include <string>
#include <vector>

namespace lipschitz {

/// How the singular values of each frequency block are computed.
enum class BlockSolver {
  gram_eigen,  ///< eigenvalues of the smaller Gram matrix, σ = √λ: fast; absolute error ~ ε·σ₁
               ///< (tiny singular values lose relative accuracy, ALGORITHMS.md §1)
  svd  ///< one-sided Jacobi SVD of the block: slower, relative accuracy on every value
};
/// "gram-eigen" or "svd".
std::string to_string(BlockSolver solver);
/// Parses "gram-eigen" or "svd"; throws std::invalid_argument otherwise.
BlockSolver block_solver_from_string(const std::string& text);

/// Options for circular_singular_values().
struct SpectrumOptions {
  BlockSolver solver = BlockSolver::gram_eigen;  ///< per-block solver
  int threads = 0;  ///< frequencies are processed in parallel on this many threads; 0: all cores
};

/// Every singular value of the circular strided convolution on the spectrum's torus, descending,
/// with multiplicities: `m₁m₂ · groups · min(rows, cols)` values (ALGORITHMS.md §1–2).
///
/// Example: `circular_singular_values(KernelSpectrum<double>(w, conv, {8, 8}))`.
template <class T>
std::vector<T> circular_singular_values(const KernelSpectrum<T>& spectrum,
                                        const SpectrumOptions& options = {});

/// Options for circular_norm_bounds().
struct NormOptions {
  /// Target relative width (upper − lower) / upper of the returned interval. Blocks certified
  /// (by Gram iteration or the Cholesky test) within this of the best lower bound are not
  /// refined further. Widths below twice the rounding margin (RoundingMargin) cannot be
  /// reached; the width is then the margin's.
  double tolerance = 1e-6;
  /// Power-iteration steps on every block (its lower bound, and the order); at most one on
  /// Gram matrices from tap products, where the estimate only spots floor-raising blocks.
  int power_steps = 3;
  /// Power-iteration steps for NormBounds::top_vector; 0 leaves it empty.
  int top_vector_steps = 0;
  /// Gram iterations per block before the Cholesky test. Each costs a d³ product, about as
  /// much as an exact eigen-solve, and on random-like weights rarely prunes before 3–4 steps
  /// (bench/README.md), so the default goes straight to the Cholesky test.
  int gram_steps = 0;
  int threads = 0;  ///< 0: all cores
};

/// A certified interval for σ₁ of the circular operator, with what it cost.
struct NormBounds {
  double lower = 0;        ///< ≤ σ₁ (a vector reaching it exists, up to the rounding margin)
  double upper = 0;        ///< ≥ σ₁, rounding margin included
  Index blocks = 0;        ///< frequency blocks examined (half grid × groups)
  Index pruned = 0;        ///< blocks dismissed by an upper bound below the best lower bound
  Index settled = 0;       ///< blocks certified within the tolerance (Gram or Cholesky)
  /// Blocks that may hold σ₁ (neither pruned nor settled against the best lower bound so far):
  /// estimated by Lanczos and certified by the Cholesky test, or solved exactly.
  Index resolved = 0;
  Index lanczos = 0;       ///< of those, the ones settled by Lanczos + the Cholesky test
  Extent argmax{0, 0};     ///< folded frequency ν of the best lower bound
  Index argmax_group = 0;  ///< its group
  /// Approximate top right singular vector of that block (length `block_cols()`), if
  /// NormOptions::top_vector_steps > 0: with the frequency it gives the plane wave that
  /// (nearly) attains σ₁ on the torus.
  std::vector<std::complex<double>> top_vector;
};

/// Certified σ₁ of the circular strided convolution (ALGORITHMS.md §5): power iteration on
/// every block gives lower bounds; then, in decreasing order of those (the first block per
/// thread alone, so that a close value sets the best lower bound L early), each block is
/// bounded above by its Frobenius norm, optionally by Gram iteration (Delattre et al., ICML
/// 2023), then by a Cholesky test of μI − A on its Gram matrix A, which certifies every
/// singular value below L·(1 + tolerance) at the cost of one factorisation. Blocks failing it
/// may hold σ₁: Lanczos on A raises L to (nearly) their σ₁ and the Cholesky test at the new L
/// certifies them; blocks of at most 64, or where that test still fails, are solved exactly
/// (Hermitian eigen-solve).
template <class T>
NormBounds circular_norm_bounds(const KernelSpectrum<T>& spectrum, const NormOptions& options = {});

/// The same search with the blocks' Gram matrices formed from tap products (TapGram) instead
/// of from the blocks, which are then never formed: `spectrum` (on demand costs nothing) gives
/// the layer, the frequencies and NormBounds::top_vector. Every bound on λ = σ² is widened by
/// TapGram::rounding_bound(). Double precision only (the Gram matrices are computed in double).
NormBounds circular_norm_bounds(const KernelSpectrum<double>& spectrum, const TapGram& taps,
                                const NormOptions& options = {});

/// How far a value computed in floating point may be from the exact one: every certified bound
/// is widened to `v·(1 − relative) − absolute` (lower) or `v·(1 + relative) + absolute` (upper).
struct RoundingMargin {
  /// `8ε(rows + cols) + 4ε·rows·cols`: products and the Hermitian eigen-solver (backward
  /// errors ∝ dimension · ε · ‖A‖), and the Gram matrix, whose worst-case error is
  /// γ_D‖B‖_F² ≤ D·d·ε·σ₁². Negligible in double (≤ 1e-9 for 512-channel blocks); in float it
  /// reaches percents on large blocks, and the certified interval says so.
  double relative = 0;
  /// `8 ε (log₂ N₁N₂ + k₁k₂ + 1) · √(k₁k₂)‖K‖_F`: the transform of the kernel (and of inputs),
  /// whose error per entry is ∝ ε·(log N for the FFT, k₁k₂ for the direct sum)·Σ_t |K_t|,
  /// bounded through the kernel's norm scale.
  double absolute = 0;
  double lower(double v) const {
    return v > 0 ? std::max(0.0, v * (1 - relative) - absolute) : 0.0;
  }
  double upper(double v) const { return v * (1 + relative) + absolute; }
};

/// The rounding margin for blocks of `rows × cols` on the spectrum's torus, in precision T.
template <class T>
RoundingMargin rounding_margin(const KernelSpectrum<T>& spectrum, Index rows, Index cols);

}  // namespace lipschitz
