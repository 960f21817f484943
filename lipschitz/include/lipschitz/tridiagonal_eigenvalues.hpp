#pragma once
/// \file tridiagonal_eigenvalues.hpp
/// Eigenvalues of a real symmetric tridiagonal matrix without square roots in the inner loop.

#include <lipschitz/conv_spec.hpp>

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

namespace lipschitz {

/// Eigenvalues of the symmetric tridiagonal matrix with diagonal `diag` (n) and off-diagonal
/// `off` (n − 1), in ascending order, written over `diag`. `work` holds n values.
///
/// Root-free QL iteration with Wilkinson shifts on the squared off-diagonal (Reinsch, "A stable
/// rational QR algorithm for the computation of the eigenvalues of an Hermitian, tridiagonal
/// matrix", Math. Comp. 25, 1971; the algorithm of EISPACK's TQLRAT): one division and no
/// square root per rotation, where the Givens QR of Eigen's `computeFromTridiagonal` takes a
/// `hypot` per rotation; for the Gram matrices of 64-channel blocks that step costs as much as
/// the tridiagonalisation before it. Off-diagonal entries count as zero once `e² ≤ (ε·t)²`,
/// `t` the largest `|d| + |e|` met so far: absolute accuracy `O(ε‖T‖)`, as for any backward
/// stable method.
///
/// Returns false (and leaves `diag` unspecified) if an eigenvalue needs more than 30 iterations,
/// which does not happen in practice; the caller then falls back to a QR solver.
template <class R>
bool tridiagonal_eigenvalues(R* diag, const R* off, Index n, R* work) {
  if (n <= 1) return true;
  R* e2 = work;  // squared off-diagonal, e2[n − 1] = 0 ends every search for a split
  for (Index i = 0; i + 1 < n; ++i) e2[i] = off[i] * off[i];
  e2[n - 1] = R(0);
  R* d = diag;
  R shift_total = 0, t = 0, b = 0, c = 0;
  for (Index l = 0; l < n; ++l) {
    const R h0 = std::abs(d[l]) + std::sqrt(e2[l]);
    if (h0 > t) {
      t = h0;
      b = std::numeric_limits<R>::epsilon() * t;
      c = b * b;
    }
    // The first negligible squared off-diagonal at or after l: T splits there.
    Index m = l;
    while (e2[m] > c) ++m;
    for (int iter = 0; m != l; ++iter) {
      if (iter == 30) return false;
      // Wilkinson shift from the leading 2 × 2 block; d[l + 1..] are shifted in place, the
      // total shift is added back when d[l] converges.
      R s = std::sqrt(e2[l]);
      R g = d[l];
      R p = (d[l + 1] - g) / (R(2) * s);
      const R r = std::hypot(p, R(1));
      d[l] = s / (p + std::copysign(r, p));
      R h = g - d[l];
      for (Index i = l + 1; i < n; ++i) d[i] -= h;
      shift_total += h;
      // One rational QL sweep from m − 1 up to l, on squared quantities.
      g = d[m];
      if (g == R(0)) g = b;
      h = g;
      s = 0;
      for (Index i = m - 1; i >= l; --i) {
        p = g * h;
        const R q = p + e2[i];
        e2[i + 1] = s * q;
        s = e2[i] / q;
        d[i + 1] = h + s * (h + d[i]);
        g = d[i] - e2[i] / g;
        if (g == R(0)) g = b;
        h = g * p / q;
      }
      e2[l] = s * g;
      d[l] = h;
      // Converged when the new off-diagonal is negligible (guarded against underflow).
      if (h == R(0) || std::abs(e2[l]) <= std::abs(c / h)) break;
      e2[l] = h * e2[l];
      if (e2[l] == R(0)) break;
    }
    // d[0..l) holds the eigenvalues found so far, ascending: insert this one.
    const R value = d[l] + shift_total;
    Index i = l;
    for (; i > 0 && value < d[i - 1]; --i) d[i] = d[i - 1];
    d[i] = value;
  }
  return true;
}

}  // namespace lipschitz
