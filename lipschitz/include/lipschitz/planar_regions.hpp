#pragma once
/// \file planar_regions.hpp
/// The exact Lipschitz constant of a ReLU/LeakyReLU network with a 2-D input, found by
/// enumerating its linear regions (ALGORITHMS.md §6b, "Exact for 2-D inputs").
///
/// **Why it is exact.** f = W_m σ_{m−1}(⋯ σ_1(W_1 x + b_1) ⋯) + b_m with σ ∈ {ReLU, LeakyReLU}
/// is affine on each activation-pattern region R_s = {x : sign z_l(x) = s_l for every layer l},
/// with Jacobian J_s = W_m D_{m−1} W_{m−1} ⋯ D_1 W_1 (D_l = diag of the slopes chosen by s_l).
/// Fixing the pattern of layers < l makes layer l's pre-activations affine, z_l = A x + c, so
/// R_s is an intersection of half-planes: a convex polygon. On a convex domain X the function
/// is Lipschitz with constant max ‖J_s‖₂ over the regions meeting X with positive area (any
/// segment crosses finitely many regions, on each of which f moves by at most ‖J_s‖·length),
/// and the constant is attained inside the region that gives the maximum. ‖J_s‖₂ is σ₁ of an
/// n_m × 2 matrix, √λ_max of its 2 × 2 Gram, in closed form.
///
/// **Enumeration.** Depth first, layer by layer: a polygon carries its pattern's z_l = A x + c
/// (the n_l × 3 matrix [A | c]); each neuron's zero set is a line; the neurons whose line
/// crosses the polygon split it in turn (Sutherland–Hodgman against one half-plane), and each
/// leaf starts the next layer with [A | c]' = W_{l+1} D_l [A | c] + [0 | b_{l+1}], updated
/// incrementally: a leaf differs from its parent's base by one rank-1 term per crossing
/// neuron taken on its positive side, n_{l+1} × 3 flops each.
///
/// **The whole plane.** The closed quadrant (s_x, s_y) is mapped by the projective map
/// u = s_x x / (1 + s_x x + s_y y), v = s_y y / (1 + s_x x + s_y y) onto the triangle
/// {u, v ≥ 0, u + v ≤ 1}; its edge u + v = 1 holds the points at infinity. Vertices are kept
/// in homogeneous coordinates (X, Y, W) = (s_x u, s_y v, 1 − u − v), so x = X/W, y = Y/W and
/// sign(a x + b y + c) = sign(a X + b Y + c W) for W > 0: lines stay lines and the same
/// cutting runs on four triangles. Every region of the plane with positive area (bounded or
/// not) meets some quadrant's interior, hence some triangle with positive area; Jacobians
/// come from the patterns, never from the coordinates.
///
/// **Rounding (the upper bound is a certificate).** Each neuron p has a margin
/// δ_p = 32·(4 Σ n_l + 8m + 64)·u · (Ā_p·|x|_max + c̄_p) (u = 2⁻⁵³; 6·10⁻¹² relative for three
/// layers of 128), where Ā, c̄ are the entrywise products |W_l| S ⋯ S |W_1| (S the largest
/// |slope|) — bounds on |A|, |c| and, times the factor, on every rounding error made in them,
/// in the vertices (≤ Σ n_l interpolations each) and in evaluating z. A neuron is decided for a
/// whole polygon only when every vertex has z > δ_p (or every one z < −δ_p); otherwise both sides
/// are kept, clipped towards inclusion ({z ≥ −δ_p} and {z ≤ δ_p}). The domain (box or triangles) is
/// inflated by 10⁻¹² of its scale. So every true region keeps a piece with its pattern; extra
/// slivers with patterns that are not regions can only raise the maximum. The maximum is then
/// raised by the worst-case rounding error of the Jacobians (a γ_n bound times ‖Ā_m‖_F) and of
/// the closed-form σ₁, and rounded up.
/// The lower bound is ‖J‖ at an interior point x* of a leaf (its centroid) where a fresh
/// forward pass finds every |pre-activation| > δ_p: x* is then truly interior to a region
/// whose pattern is the computed one, so ‖J(x*)‖ (lowered by the same rounding terms) is a
/// value the constant attains. Normally both bounds come from the same region and agree to
/// ~10⁻¹¹ relative.
///
/// **Complexity.** Linear in the number of leaves R (pieces of the final subdivision): each
/// costs O(n_l · vertices) to classify its polygon and O(n_{l+1}) per crossing neuron; a
/// layer-l leaf that starts layer l+1 costs O(n_l n_{l+1}) once. R itself is what it is:
/// O(n²) for one layer of n lines, growing with depth. Measured (2 cores, Debian 12, g++ -O2)
/// on random 2→128→128→128→1 ReLU nets (weights N(0, 2/fan_in), biases N(0, 0.1), variances):
/// 5.6–6.6·10⁴ regions in [−1.6, 1.6]² in 0.11 s, 7.2–8.7·10⁴ over the plane in 0.13 s
/// (0.22 s and 0.28 s on one core); 2→256³→1: 2.2·10⁵ and 3.0·10⁵ regions, 3–5 s on a loaded
/// machine. The cells of the first layer's arrangement are shared out over OpenMP threads.
///
/// **Limits.** (1) Exactly concurrent lines — typically zero biases, which put every line
/// through the origin — leave vertices within the margin of many lines; the margin then keeps
/// slivers at the common point whose number doubles with each such line, and the run stops
/// at max_regions (incomplete, upper = +∞, quickly). A handful of concurrent lines (lines
/// through a box corner, duplicated neurons) cost only a few extra pieces; neurons that are
/// identically zero (pruned rows) are skipped exactly. (2) Slivers kept by the margin carry
/// patterns that may be no region's; they can only raise the upper bound, and do so only in
/// such near-degenerate nets. (3) The Jacobian's rounding term grows like ‖Ā_m‖_F, the product
/// of the layers' entrywise absolute values: upper/lower − 1 is ~10⁻¹¹ for widths ≤ 32 and
/// up to ~10⁻⁹ for four layers of 128.
///
/// Example:
/// \code
///   Box box{Eigen::Vector2d(-1.6, -1.6), Eigen::Vector2d(1.6, 1.6)};
///   PlanarResult local = planar_lipschitz(chain, box);
///   if (local.complete) std::cout << local.lower_bound << " ≤ L ≤ " << local.upper_bound;
///   PlanarResult global = planar_lipschitz_global(chain);
/// \endcode

#include <lipschitz/affine_chain.hpp>

#include <Eigen/Core>

#include <cstdint>
#include <limits>
#include <string>

namespace lipschitz {

/// Budgets of the enumeration.
struct PlanarOptions {
  /// Wall-clock budget in seconds; when it runs out the result is incomplete (upper = +∞).
  double seconds = 60;
  /// Budget on the number of leaves (pieces) enumerated; incomplete beyond it.
  std::int64_t max_regions = 20'000'000;
  /// OpenMP threads over the first layer's cells; 0: every core.
  int threads = 0;
};

/// How the enumeration ended.
enum class PlanarStatus {
  complete,      ///< every region enumerated: the bounds hold
  time_limit,    ///< PlanarOptions::seconds ran out (upper_bound = +∞)
  region_limit,  ///< PlanarOptions::max_regions reached (upper_bound = +∞)
  non_finite     ///< a weight, bias or slope is NaN or infinite (upper_bound = +∞)
};
/// "complete", "time_limit", "region_limit", "non_finite".
std::string to_string(PlanarStatus status);

/// What planar_lipschitz() found.
struct PlanarResult {
  /// ≥ the true Lipschitz constant (L2 → L2) over the domain, rounded up; +∞ unless complete.
  double upper_bound = std::numeric_limits<double>::infinity();
  /// ‖J(witness)‖ rounded down: the gradient norm at an interior point of a region that
  /// certainly exists (inside the box for the local constant); 0 when none was confirmed.
  double lower_bound = 0;
  /// The point of the lower bound (the box centre, or the origin, when none was confirmed).
  Eigen::Vector2d witness = Eigen::Vector2d::Zero();
  bool complete = false;     ///< every region enumerated
  std::int64_t regions = 0;  ///< leaves enumerated (globally: a region crossing an axis once
                             ///< per quadrant it meets; a margin sliver counts too)
  double seconds = 0;        ///< wall time
  PlanarStatus status = PlanarStatus::complete;
};

/// The Lipschitz constant of `chain` on the box `domain` (2 entries each side, lower < upper,
/// finite): max σ₁(J_s) over the linear regions meeting the box. `chain` needs input_dim() = 2,
/// consistent shapes and ReLU/LeakyReLU activations (LeakyReLU's slope in
/// chain.parameters[k]); any output dimension. Throws std::invalid_argument otherwise.
/// Example: `planar_lipschitz(chain, Box{Eigen::Vector2d(-1, -1), Eigen::Vector2d(1, 1)})`.
PlanarResult planar_lipschitz(const AffineChain& chain, const Box& domain,
                              const PlanarOptions& options = {});

/// The global Lipschitz constant of `chain` on all of R²: the same over every linear region of
/// the plane, unbounded ones included (four projective triangles, see the file comment).
/// Same requirements as planar_lipschitz(). Example: `planar_lipschitz_global(chain)`.
PlanarResult planar_lipschitz_global(const AffineChain& chain, const PlanarOptions& options = {});

}  // namespace lipschitz
