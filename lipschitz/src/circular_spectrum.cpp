#include <lipschitz/cholesky_bound.hpp>
#include <lipschitz/circular_spectrum.hpp>
#include <lipschitz/lanczos.hpp>
#include <lipschitz/tap_gram.hpp>
#include <lipschitz/tridiagonal_eigenvalues.hpp>

#include "parallel.hpp"

#include <Eigen/Eigenvalues>
#include <Eigen/SVD>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <deque>
#include <limits>
#include <numeric>
#include <stdexcept>

namespace lipschitz {

std::string to_string(BlockSolver solver) {
  return solver == BlockSolver::svd ? "svd" : "gram-eigen";
}

BlockSolver block_solver_from_string(const std::string& text) {
  if (text == "gram-eigen") return BlockSolver::gram_eigen;
  if (text == "svd") return BlockSolver::svd;
  throw std::invalid_argument("block solver must be 'gram-eigen' or 'svd', got '" + text + "'");
}

template <class T>
RoundingMargin rounding_margin(const KernelSpectrum<T>& spectrum, Index rows, Index cols) {
  const double eps = std::numeric_limits<T>::epsilon();
  const double points = double(spectrum.torus()[0]) * double(spectrum.torus()[1]);
  RoundingMargin m;
  // Products and the eigen-solver: 8ε(rows + cols). The Gram matrix: ‖fl(BBᴴ) − BBᴴ‖₂ ≤
  // γ_D‖B‖_F² ≤ γ_D·d·σ₁² (D, d the larger and smaller side; rank ≤ d), a relative error of
  // D·d·ε on λ, half that on σ; counted twice for complex arithmetic. Worst case, not typical:
  // it is what keeps an upper bound above the truth whatever the rounding did.
  m.relative = 8.0 * eps * double(rows + cols) + 4.0 * eps * double(rows) * double(cols);
  const double taps = double(spectrum.conv().kernel[0] * spectrum.conv().kernel[1]);
  m.absolute = 8.0 * eps * (std::log2(std::max(points, 2.0)) + taps + 1.0) * spectrum.norm_scale();
  return m;
}

namespace {

// Blocks come row-major from KernelSpectrum; Gram matrices and their work copies are
// column-major, the layout Eigen's eigen-solver and Cholesky are written for. S is the scalar:
// std::complex<T> for most blocks, T for self-conjugate ones (KernelSpectrum::real_block).
template <class S>
using Matrix = Eigen::Matrix<S, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
template <class S>
using Square = Eigen::Matrix<S, Eigen::Dynamic, Eigen::Dynamic>;
template <class S>
using Vector = Eigen::Matrix<S, Eigen::Dynamic, 1>;
template <class S>
using Real = typename Eigen::NumTraits<S>::Real;

/// Complex Gram matrices larger than this are formed by panels of full products (below).
constexpr Index kGramPanelMinSize = 64;
/// Width of those panels.
constexpr Index kGramPanel = 32;

/// Lower triangle of the smaller Gram matrix: B Bᴴ if B is wide, Bᴴ B if tall (the strict
/// upper triangle is zero).
///
/// Eigen's Hermitian rank update ran its complex kernel at 12–46 GMAC/s on the development
/// machine, depending on the size and even on the buffers' addresses (a 128 × 128 block of one
/// layer took 113 µs, of another 320 µs), against a steady ~45 for a full complex product.
/// Above 64 the lower triangle is therefore formed by column panels of width 32, each one full
/// product (rows j.. of the Gram matrix against columns j..j+31): 1 + 32/d times the arithmetic
/// of the triangle. On blocks of the bench layers: 1.36× faster at d = 512 (7.2 against 9.7 ms),
/// 1.7–2.4× where the rank update was slow, up to a third slower where it ran at full speed
/// (bench/README.md). Every entry is still one dot product of length D, so the
/// rounding bound of §6 is unchanged. Real blocks keep the rank update.
template <class S>
void gram(const Matrix<S>& b, Square<S>& a) {
  const bool wide = b.rows() <= b.cols();
  const Index d = std::min(b.rows(), b.cols());
  a.setZero(d, d);
  if (!Eigen::NumTraits<S>::IsComplex || d <= kGramPanelMinSize) {
    if (wide)
      a.template selfadjointView<Eigen::Lower>().rankUpdate(b);
    else
      a.template selfadjointView<Eigen::Lower>().rankUpdate(b.adjoint());
    return;
  }
  for (Index j = 0; j < d; j += kGramPanel) {
    const Index w = std::min(kGramPanel, d - j);
    auto panel = a.block(j, j, d - j, w);
    if (wide)
      panel.noalias() = b.middleRows(j, d - j) * b.middleRows(j, w).adjoint();
    else
      panel.noalias() = b.middleCols(j, d - j).adjoint() * b.middleCols(j, w);
    // The panel's top w × w block is on the diagonal: keep only its lower triangle.
    panel.topRows(w).template triangularView<Eigen::StrictlyUpper>().setZero();
  }
}

/// Eigenvalues, ascending, of the Hermitian matrix whose lower triangle is `a` (`work` is
/// overwritten): Eigen's Householder tridiagonalisation, as in its SelfAdjointEigenSolver, then
/// the root-free QL iteration (tridiagonal_eigenvalues.hpp) instead of Eigen's Givens QR, which
/// is 3–4 times slower and, at d = 64, as costly as the tridiagonalisation itself.
template <class S>
void hermitian_eigenvalues(const Square<S>& a, Square<S>& work,
                           Eigen::Matrix<Real<S>, Eigen::Dynamic, 1>& values) {
  using R = Real<S>;
  const Index d = a.rows();
  // Entries mapped to [−1, 1], as Eigen does, so that the squares in the QL step cannot
  // overflow or underflow.
  work = a.template triangularView<Eigen::Lower>();
  R scale = std::sqrt(work.cwiseAbs2().maxCoeff());
  if (!(scale > 0)) scale = R(1);
  work /= scale;
  values.resize(d);
  Eigen::Matrix<R, Eigen::Dynamic, 1> sub(std::max<Index>(d - 1, 0));
  Eigen::Matrix<S, Eigen::Dynamic, 1> householder(std::max<Index>(d - 1, 1));
  Eigen::internal::tridiagonalization_inplace(work, values, sub, householder, false);
  std::vector<R> scratch(static_cast<std::size_t>(d));
  if (!tridiagonal_eigenvalues(values.data(), sub.data(), d, scratch.data())) {
    Eigen::SelfAdjointEigenSolver<Square<S>> es(a, Eigen::EigenvaluesOnly);  // QR fallback
    values = es.eigenvalues();
    return;
  }
  values *= scale;
}

/// Largest eigenvalue of the Hermitian matrix whose lower triangle is `a`.
template <class S>
Real<S> largest_eigenvalue(const Square<S>& a, Square<S>& work) {
  Eigen::Matrix<Real<S>, Eigen::Dynamic, 1> values;
  hermitian_eigenvalues<S>(a, work, values);
  // maxCoeff may skip a NaN: a non-finite eigenvalue makes the result NaN, which the caller
  // treats as "no bound".
  if (!values.allFinite()) return std::numeric_limits<Real<S>>::quiet_NaN();
  return values.size() > 0 ? values.maxCoeff() : Real<S>(0);
}

/// The power-iteration loop: `steps` times v ← back(forward(v)), v normalised first; returns
/// ‖forward(v)‖ for the last, unit v (0 if v vanished).
template <class S, class Forward, class Back>
Real<S> power_loop(Vector<S>& v, int steps, Forward&& forward, Back&& back) {
  Vector<S> w;
  Real<S> value = 0;
  for (int k = 0; k <= steps; ++k) {
    const Real<S> nv = v.norm();
    if (!(nv > 0)) return Real<S>(0);
    v /= nv;
    forward(v, w);
    value = w.norm();
    if (k < steps) back(w, v);
  }
  return value;
}

/// Power iteration on BᴴB started from the largest row of B; returns ‖B v‖/‖v‖ ≤ σ₁(B).
template <class S>
Real<S> power_lower_bound(const Matrix<S>& b, int steps, Vector<S>& v) {
  if (v.size() != b.cols()) {
    Index r = 0;
    b.rowwise().squaredNorm().maxCoeff(&r);
    v = b.row(r).adjoint();
  }
  return power_loop<S>(
      v, steps, [&](const Vector<S>& x, Vector<S>& y) { y.noalias() = b * x; },
      [&](const Vector<S>& y, Vector<S>& x) { x.noalias() = b.adjoint() * y; });
}

/// A block as an operator for lanczos_top_singular_value(), oriented so that its Gram matrix
/// TᴴT is the smaller one: T = Bᴴ for a wide block, B for a tall one.
template <class S>
struct BlockOperator {
  const Matrix<S>& b;
  bool wide() const { return b.rows() <= b.cols(); }
  Index input_size() const { return wide() ? b.rows() : b.cols(); }
  Index output_size() const { return wide() ? b.cols() : b.rows(); }
  void apply(const S* x, S* y) const {
    const Eigen::Map<const Vector<S>> in(x, input_size());
    Eigen::Map<Vector<S>> out(y, output_size());
    if (wide())
      out.noalias() = b.adjoint() * in;
    else
      out.noalias() = b * in;
  }
  void apply_adjoint(const S* y, S* x) const {
    const Eigen::Map<const Vector<S>> in(y, output_size());
    Eigen::Map<Vector<S>> out(x, input_size());
    if (wide())
      out.noalias() = b * in;
    else
      out.noalias() = b.adjoint() * in;
  }
};

/// Gram iteration (Delattre et al. 2023, ALGORITHMS.md §5) on the Hermitian PSD `a` (lower
/// triangle), rescaled at every step: λ_max(A) ≤ ‖A^(2^j)‖_F^(1/2^j). Stops as soon as the bound
/// is ≤ `stop`; returns the last bound on λ_max.
template <class S>
double gram_iteration(const Square<S>& a, int steps, double stop) {
  using R = Real<S>;
  // ‖A‖_F from the lower triangle (gram() leaves the strict upper one zero): the off-diagonal
  // entries count twice. With no steps (the default) that is all, and A is not copied.
  const double squared = 2.0 * double(a.squaredNorm()) - double(a.diagonal().squaredNorm());
  // An overflowed Gram matrix (∞ − ∞) bounds nothing.
  if (!std::isfinite(squared)) return std::numeric_limits<double>::infinity();
  const double frobenius = std::sqrt(std::max(0.0, squared));
  if (steps <= 0 || !(frobenius > stop)) return frobenius;
  Square<S> h = a.template selfadjointView<Eigen::Lower>();
  double log_c = std::log(double(h.norm()));  // log ‖A^(2^j)‖_F, tracked without overflow
  if (!std::isfinite(log_c)) return log_c < 0 ? 0.0 : std::numeric_limits<double>::infinity();
  h /= R(h.norm());
  double bound = std::exp(log_c);
  Square<S> next;
  for (int j = 1; j <= steps && bound > stop; ++j) {
    next.noalias() = h * h;  // H is Hermitian: Hᴴ H = H²
    const double r = double(next.norm());
    if (!(r > 0)) return bound;
    h = next / R(r);
    log_c = 2.0 * log_c + std::log(r);
    bound = std::min(bound, std::exp(log_c / std::ldexp(1.0, j)));
  }
  return bound;
}

/// Blocks up to this size are solved exactly when they may hold σ₁ (an eigen-solve of a
/// 64 × 64 matrix costs about what Lanczos does); larger ones get Lanczos first.
constexpr Index kLanczosMinSize = 64;
/// Lanczos steps at most (memory: that many vectors of the block's size).
constexpr int kLanczosMaxSteps = 160;

/// Per-thread buffers for one block, complex or real (self-conjugate frequencies).
template <class T>
struct Workspace {
  template <class S>
  struct Of {
    Matrix<S> b;
    Square<S> a, work;
    Vector<S> v;
    CholeskyWork<S> cholesky;
  };
  Of<std::complex<T>> complex;
  Of<T> real;
  typename KernelSpectrum<T>::AliasScratch aliases;
  TapGram::Scratch taps;
};

/// Calls `fn(buffers)` with the block (f, group) written into `buffers.b`: the real form for
/// self-conjugate frequencies (a quarter of the arithmetic, same singular values), else the
/// complex one.
template <class T, class Fn>
void with_block(const KernelSpectrum<T>& spectrum, Index f, Index group, Workspace<T>& ws,
                Fn&& fn) {
  if (spectrum.self_conjugate(f)) {
    spectrum.real_block(f, group, ws.real.b, ws.aliases);
    fn(ws.real);
  } else {
    spectrum.block(f, group, ws.complex.b, ws.aliases);
    fn(ws.complex);
  }
}

/// The blocks in runs of consecutive frequencies of one group (KernelSpectrum::prefetch): run b
/// has group `group(b)` and frequencies [first(b), first(b) + size(b)); there are `count()`.
struct Runs {
  Index frequencies, groups, per;
  Runs(Index frequencies_, Index groups_, Index per_)
      : frequencies(frequencies_), groups(groups_), per(per_) {}
  Index per_group() const { return (frequencies + per - 1) / per; }
  Index count() const { return per_group() * groups; }
  Index group(Index b) const { return b / per_group(); }
  Index first(Index b) const { return b % per_group() * per; }
  Index size(Index b) const { return std::min(per, frequencies - first(b)); }
  /// The run holding job f·groups + g.
  Index of(Index job) const { return job % groups * per_group() + job / groups / per; }
};

/// Frequencies per run: one when stored (each block is then scheduled, and in phase 2 of the
/// σ₁ search ordered, on its own), KernelSpectrum::prefetch_count() on demand.
template <class T>
Index run_length(const KernelSpectrum<T>& spectrum, int threads) {
  return spectrum.stored() ? 1 : spectrum.prefetch_count(threads);
}

/// Hands out the frequencies of one run in order, to one thread or to several: `next()` is the
/// offset of one not yet handed out, or −1.
class RunCursor {
 public:
  explicit RunCursor(Index size) : size_(size) {}
  Index next() {
    const Index i = taken_.fetch_add(1, std::memory_order_relaxed);
    return i < size_ ? i : -1;
  }
  /// Frequencies not yet handed out.
  Index left() const { return std::max<Index>(0, size_ - taken_.load(std::memory_order_relaxed)); }

 private:
  Index size_;
  std::atomic<Index> taken_{0};
};

/// Calls `fn(job, buffers)` for the jobs (job = f·groups + g) of run `b` that `wanted(job)`
/// accepts among those `cursor` hands this thread, with their blocks; the run is prefetched
/// once, from the first such job to its end.
template <class T, class Wanted, class Fn>
void for_run(const KernelSpectrum<T>& spectrum, const Runs& runs, Index b, RunCursor& cursor,
             Workspace<T>& ws, Wanted&& wanted, Fn&& fn) {
  const Index g = runs.group(b), first = runs.first(b), end = first + runs.size(b);
  bool fetched = false;
  for (Index i; (i = cursor.next()) >= 0;) {
    const Index f = first + i, job = f * runs.groups + g;
    if (!wanted(job)) continue;
    if (!fetched) spectrum.prefetch(f, end - f, g, ws.aliases);
    fetched = true;
    with_block(spectrum, f, g, ws, [&](auto& buf) { fn(job, buf); });
  }
}

}  // namespace

template <class T>
std::vector<T> circular_singular_values(const KernelSpectrum<T>& spectrum,
                                        const SpectrumOptions& options) {
  const Index freqs = spectrum.frequency_count();
  const Index groups = spectrum.conv().groups;
  const Index d = std::min(spectrum.block_rows(), spectrum.block_cols());
  // Slot of each block's values in the output: multiplicity · d values per block.
  std::vector<Index> offset(static_cast<std::size_t>(freqs + 1), 0);
  for (Index f = 0; f < freqs; ++f)
    offset[f + 1] = offset[f] + spectrum.multiplicity(f) * d * groups;
  std::vector<T> values(static_cast<std::size_t>(offset[freqs]));
  const int threads = detail::resolve_threads(options.threads);
  const Runs runs(freqs, groups, run_length(spectrum, threads));
  std::atomic<bool> non_finite{false};
#pragma omp parallel num_threads(threads)
  {
    Workspace<T> ws;
    Eigen::Matrix<T, Eigen::Dynamic, 1> sv;
#pragma omp for schedule(dynamic)
    for (Index b = 0; b < runs.count(); ++b) {
      RunCursor cursor(runs.size(b));
      for_run(spectrum, runs, b, cursor, ws, [](Index) { return true; }, [&](Index job, auto& buf) {
        using S = typename std::decay_t<decltype(buf.b)>::Scalar;
        if (options.solver == BlockSolver::svd) {
          // Jacobi, not BDCSVD: Eigen 3.4.0's BDCSVD returns wrong values for repeated ones.
          Eigen::JacobiSVD<Matrix<S>> svd(buf.b);
          sv = svd.singularValues();
        } else {
          gram<S>(buf.b, buf.a);
          hermitian_eigenvalues<S>(buf.a, buf.work, sv);
          if (!sv.allFinite()) non_finite = true;  // before cwiseMax, which may drop a NaN
          sv = sv.cwiseMax(T(0)).cwiseSqrt();
        }
        if (!sv.allFinite()) non_finite = true;  // reported after the parallel region
        const Index f = job / groups, g = job % groups, mult = spectrum.multiplicity(f);
        T* out = values.data() + offset[f] + g * mult * d;
        for (Index r = 0; r < mult; ++r) std::copy(sv.data(), sv.data() + d, out + r * d);
      });
    }
  }
  // A NaN would also make the sort below undefined, and the first value need not be σ₁.
  if (non_finite)
    throw std::runtime_error(
        "a frequency block's singular values are not finite (the weight's scale is out of "
        "range; analyze_conv normalises it)");
  std::sort(values.begin(), values.end(), std::greater<T>());
  return values;
}

namespace {

/// Power iteration on the Hermitian `a` (lower triangle) started from its largest diagonal
/// entry's column; returns ‖A v‖/‖v‖ ≤ max |λ(A)|.
template <class S>
Real<S> hermitian_power(const Square<S>& a, int steps, Vector<S>& v) {
  if (v.size() != a.rows()) {
    Index r = 0;
    a.diagonal().real().maxCoeff(&r);
    v = Vector<S>::Unit(a.rows(), r);
  }
  return power_loop<S>(
      v, steps,
      [&](const Vector<S>& x, Vector<S>& y) {
        y.noalias() = a.template selfadjointView<Eigen::Lower>() * x;
      },
      [](const Vector<S>& y, Vector<S>& x) { x = y; });
}

/// A Hermitian matrix (lower triangle) as an operator for lanczos_top_singular_value(): its
/// largest singular value is its largest |eigenvalue|.
template <class S>
struct HermitianOperator {
  const Square<S>& a;
  Index input_size() const { return a.rows(); }
  Index output_size() const { return a.rows(); }
  void apply(const S* x, S* y) const {
    Eigen::Map<Vector<S>>(y, a.rows()).noalias() =
        a.template selfadjointView<Eigen::Lower>() * Eigen::Map<const Vector<S>>(x, a.rows());
  }
  void apply_adjoint(const S* y, S* x) const { apply(y, x); }
};

/// Lanczos settings for a block that may hold σ₁: converged when the Ritz residual is within a
/// quarter of the tolerance (then the value is within it of an eigenvalue), or the estimate
/// stopped growing by 1 % of it per step.
LanczosOptions block_lanczos_options(double tol) {
  LanczosOptions lo;
  lo.max_steps = kLanczosMaxSteps;
  lo.tolerance = 0.25 * std::max(tol, 1e-12);
  lo.stagnation = 0.01 * std::max(tol, 1e-12);
  lo.stagnation_window = 1;
  return lo;
}

/// The σ₁ search's blocks from a KernelSpectrum: each block B(ν), its Gram matrix formed by
/// gram(). Bounds on σ come from B directly, or as √λ of the Gram matrix (exact up to the
/// rounding margin).
template <class T>
struct SpectrumBlocks {
  const KernelSpectrum<T>& spectrum;
  static constexpr bool kPhase1Estimates = true;  // estimate() in phase 1, on every block
  static constexpr double gram_error = 0;  // the Gram's rounding is in the margin
  Runs runs(int threads) const {
    return Runs(spectrum.frequency_count(), spectrum.conv().groups, run_length(spectrum, threads));
  }
  /// A run's prefetch is not shared: a second thread on it would compute it again.
  static constexpr bool kShareRuns = false;
  template <class Wanted, class Fn>
  void for_run(const Runs& r, Index b, RunCursor& cursor, Workspace<T>& ws, Wanted&& wanted,
               Fn&& fn) const {
    lipschitz::for_run(spectrum, r, b, cursor, ws, wanted, fn);
  }
  template <class Fn>
  void with_job(Index job, Workspace<T>& ws, Fn&& fn) const {
    const Index groups = spectrum.conv().groups;
    with_block(spectrum, job / groups, job % groups, ws, fn);
  }
  /// Phase 1: a lower bound on σ₁ of the block (power iteration) and an upper one (‖B‖_F),
  /// before the margin.
  template <class Buf>
  std::pair<double, double> estimate(Buf& buf, int steps) const {
    using S = typename std::decay_t<decltype(buf.b)>::Scalar;
    buf.v.resize(0);
    return {double(power_lower_bound<S>(buf.b, steps, buf.v)), double(buf.b.norm())};
  }
  template <class Buf>
  void form_gram(Buf& buf) const {
    gram(buf.b, buf.a);
  }
  /// A lower bound on σ₁ of the block close to it (before the margin), by Lanczos.
  template <class Buf>
  double lanczos(Buf& buf, double tol) const {
    using S = typename std::decay_t<decltype(buf.b)>::Scalar;
    BlockOperator<S> op{buf.b};
    return lanczos_top_singular_value<S>(op, block_lanczos_options(tol)).value;
  }
};

/// The σ₁ search's blocks from a TapGram: only the Gram matrices, each fl(G) within
/// `gram_error` of the exact G in norm (TapGram::rounding_bound()), which every bound on
/// λ = σ² carries.
struct TapBlocks {
  const TapGram& taps;
  Index groups;
  double gram_error;
  Index per;  // frequencies per run: one row u of the half grid
  static constexpr bool kPhase1Estimates = false;  // lower_estimate() in phase 2, once formed
  Runs runs(int) const { return Runs(taps.frequency_count(), groups, per); }
  /// ‖B‖_F ≥ σ₁ of a block, from its Gram matrix's trace (TapGram::trace()).
  double frobenius(Index job) const {
    const double trace = taps.trace(job / groups, job % groups);
    return std::sqrt(std::max(0.0, trace + double(taps.side() + 1) * gram_error));
  }
  template <class Fn>
  void fill(Index f, Index g, Workspace<double>& ws, Fn&& fn) const {
    if (taps.self_conjugate(f)) {
      taps.real_gram(f, g, ws.real.a, ws.taps);
      fn(ws.real);
    } else {
      taps.gram(f, g, ws.complex.a, ws.taps);
      fn(ws.complex);
    }
  }
  /// A second thread on a run repeats only the row's first pass (TapGram::first_pass()).
  static constexpr bool kShareRuns = true;
  template <class Wanted, class Fn>
  void for_run(const Runs& r, Index b, RunCursor& cursor, Workspace<double>& ws, Wanted&& wanted,
               Fn&& fn) const {
    const Index g = r.group(b), first = r.first(b);
    for (Index i; (i = cursor.next()) >= 0;) {
      const Index f = first + i, job = f * r.groups + g;
      if (wanted(job)) fill(f, g, ws, [&](auto& buf) { fn(job, buf); });
    }
  }
  template <class Fn>
  void with_job(Index job, Workspace<double>& ws, Fn&& fn) const {
    fill(job / groups, job % groups, ws, fn);
  }
  /// A lower bound on σ₁ of the block (power iteration on its Gram matrix), before the margin.
  /// One step at most: here it only spots blocks that raise the floor (the order comes from the
  /// traces), and on the bench's layers three steps still left it ~7 % below the block's top,
  /// too far to tell any but the first blocks; the two steps spared were 8–10 % of the search at
  /// ResNet 128 and 256.
  template <class Buf>
  double lower_estimate(Buf& buf, int steps) const {
    using S = typename std::decay_t<decltype(buf.a)>::Scalar;
    buf.v.resize(0);
    const double lambda = double(hermitian_power<S>(buf.a, std::min(steps, 1), buf.v));
    return std::sqrt(std::max(0.0, lambda - gram_error));
  }
  template <class Buf>
  void form_gram(Buf&) const {}
  template <class Buf>
  double lanczos(Buf& buf, double tol) const {
    using S = typename std::decay_t<decltype(buf.a)>::Scalar;
    HermitianOperator<S> op{buf.a};
    // On A² the relative gap doubles; a quarter of the tolerance on λ is half of it on σ.
    const double lambda = lanczos_top_singular_value<S>(op, block_lanczos_options(tol)).value;
    return std::sqrt(std::max(0.0, lambda - gram_error));
  }
};

/// circular_norm_bounds() on either source of blocks (SpectrumBlocks, TapBlocks).
template <class T, class Source>
NormBounds norm_bounds(const KernelSpectrum<T>& spectrum, const Source& source,
                       const RoundingMargin& margin, const NormOptions& options) {
  if (!(options.tolerance >= 0))
    throw std::invalid_argument("tolerance must be non-negative, got " +
                                std::to_string(options.tolerance));
  const Index groups = spectrum.conv().groups;
  const Index jobs = spectrum.frequency_count() * groups;
  const int threads = detail::resolve_threads(options.threads);
  const Runs runs = source.runs(threads);
  // Bounds on λ = σ² from the Gram matrix: widened by the source's error on it, then the margin.
  const double e = source.gram_error;
  auto upper_from_lambda = [&](double lambda) { return margin.upper(std::sqrt(lambda + e)); };
  auto lower_from_lambda = [&](double lambda) {
    return margin.lower(std::sqrt(std::max(0.0, lambda - e)));
  };

  // Phase 1: a cheap upper bound (Frobenius) per block and, where the source forms the blocks
  // anyway, a lower bound (power iteration). A TapBlocks source has its Frobenius bounds from
  // traces alone and leaves the lower bounds to phase 2: forming every Gram matrix twice cost
  // more than the blocks it would have spared there.
  std::vector<double> lower(static_cast<std::size_t>(jobs)), frob(static_cast<std::size_t>(jobs));
  if constexpr (Source::kPhase1Estimates) {
#pragma omp parallel num_threads(threads)
    {
      Workspace<T> ws;
#pragma omp for schedule(dynamic)
      for (Index b = 0; b < runs.count(); ++b) {
        RunCursor cursor(runs.size(b));
        source.for_run(runs, b, cursor, ws, [](Index) { return true; }, [&](Index job, auto& buf) {
          const auto [low, high] = source.estimate(buf, options.power_steps);
          lower[job] = margin.lower(low);
          frob[job] = margin.upper(high);
        });
      }
    }
  } else {
    for (Index job = 0; job < jobs; ++job) frob[job] = margin.upper(source.frobenius(job));
  }
  // The most promising blocks (one per thread) for the first round below, and the runs in
  // decreasing order of the best promise in them for phase 2: the lower bounds, or else the
  // Frobenius bounds.
  const std::vector<double>& promise = Source::kPhase1Estimates ? lower : frob;
  const Index first = std::min<Index>(threads, jobs);
  std::vector<Index> order(static_cast<std::size_t>(jobs));
  std::iota(order.begin(), order.end(), Index(0));
  std::partial_sort(order.begin(), order.begin() + first, order.end(),
                    [&](Index x, Index y) { return promise[x] > promise[y]; });
  std::vector<double> run_best(static_cast<std::size_t>(runs.count()), 0.0);
  for (Index job = 0; job < jobs; ++job)
    run_best[runs.of(job)] = std::max(run_best[runs.of(job)], promise[job]);
  std::vector<Index> run_order(static_cast<std::size_t>(runs.count()));
  std::iota(run_order.begin(), run_order.end(), Index(0));
  std::sort(run_order.begin(), run_order.end(),
            [&](Index x, Index y) { return run_best[x] > run_best[y]; });

  Index best = 0;
  for (Index job = 1; job < jobs; ++job)
    if (lower[job] > lower[best]) best = job;
  std::atomic<double> best_lower{jobs > 0 ? lower[best] : 0.0};
  auto raise = [&](double value) {
    double cur = best_lower.load();
    while (value > cur && !best_lower.compare_exchange_weak(cur, value)) {
    }
  };

  // Phase 2 (below): every block against the best lower bound so far.
  std::vector<double> upper(static_cast<std::size_t>(jobs));
  std::atomic<Index> pruned{0}, settled{0}, resolved{0}, by_lanczos{0};
  const double tol = options.tolerance;
  // The bound on λ = σ² a block's Gram matrix must meet for its certified σ to be within the
  // tolerance of the best lower bound `floor` (margin and the source's error included).
  auto lambda_target_for = [&](double floor) {
    const double sigma =
        std::max(0.0, (floor * (1.0 + tol) - margin.absolute) / (1.0 + margin.relative));
    return sigma * sigma - e;
  };
  // Dismissed by its Frobenius norm, before the block is even formed?
  auto pruned_by_frobenius = [&](Index job) {
    if (frob[job] > best_lower.load()) return false;
    upper[job] = frob[job];
    ++pruned;
    return true;
  };
  // A block is done once its bound on σ is ≤ the best lower bound (pruned) or within the
  // tolerance of it (settled); otherwise it may hold σ₁ and is estimated (resolved).
  auto process = [&](Index job, auto& buf, bool estimate_first) {
    using S = typename std::decay_t<decltype(buf.a)>::Scalar;
    double floor = best_lower.load();
    source.form_gram(buf);
    if constexpr (!Source::kPhase1Estimates) {
      // The lower bound phase 1 did not take. A block that raises the floor is likely to
      // hold σ₁ (its power estimate is below its top): estimated closely without a Cholesky
      // test first, which would fail.
      const double low = margin.lower(source.lower_estimate(buf, options.power_steps));
      if (low > lower[job]) lower[job] = low;
      if (lower[job] > floor) estimate_first = true;
      raise(lower[job]);
      floor = std::max(floor, lower[job]);
    }
    double target = lambda_target_for(floor);
    // Is every singular value below the target? One Cholesky answers it (cholesky_bound.hpp,
    // which tries ‖A‖_F first). Gram iteration first only where asked for, or where there is no
    // test (the first round, or a floor still 0): ‖A‖_F then, a pass over A the test repeats.
    const bool test = !estimate_first && target > 0;
    double g = std::numeric_limits<double>::infinity();
    if (options.gram_steps > 0 || !test)
      g = upper_from_lambda(gram_iteration<S>(buf.a, options.gram_steps, std::max(0.0, target)));
    if (test && g > floor * (1.0 + tol))
      g = std::min(g, upper_from_lambda(cholesky_bound<S>(
                          buf.a, target, lower[job] * lower[job], buf.cholesky)));
    if (g <= floor) {
      upper[job] = g;
      ++pruned;
      return;
    }
    if (g <= floor * (1.0 + tol)) {
      upper[job] = g;
      ++settled;
      return;
    }
    ++resolved;
    // This block may hold σ₁. Large blocks: Lanczos for a lower bound close to its top, then
    // the Cholesky test at that level certifies the upper side; small ones, or when that test
    // fails (Lanczos stopped short), the exact eigen-solve.
    if (buf.a.rows() > kLanczosMinSize) {
      const double l = margin.lower(source.lanczos(buf, tol));
      lower[job] = std::max(lower[job], l);
      raise(lower[job]);
      floor = std::max(best_lower.load(), lower[job]);
      target = lambda_target_for(floor);
      const double c = target > 0 ? upper_from_lambda(cholesky_bound<S>(
                                        buf.a, target, lower[job] * lower[job], buf.cholesky))
                                  : std::numeric_limits<double>::infinity();
      if (c <= floor * (1.0 + tol)) {
        upper[job] = std::min(g, c);
        ++by_lanczos;
        return;
      }
    }
    const double lambda = double(largest_eigenvalue<S>(buf.a, buf.work));
    if (std::isnan(lambda)) {
      // A non-finite eigenvalue (an overflowed Gram matrix): no bound from this block but
      // what g already gives.
      upper[job] = std::isnan(g) ? std::numeric_limits<double>::infinity() : g;
      return;
    }
    upper[job] = std::min(g, upper_from_lambda(std::max(0.0, lambda)));
    lower[job] = std::max(lower[job], lower_from_lambda(lambda));
    raise(lower[job]);
  };
  // The most promising blocks first, one per thread: estimated closely, they make the best
  // lower bound tight before the others are tested against it (started together with the rest,
  // the others would test against the power-iteration estimate and fail).
  //
  // Phase 2 then takes the other blocks run by run (consecutive frequencies, prefetched
  // together when the spectrum is computed on demand), the runs with the best lower bounds
  // first. Once the first round has made the floor tight, the order only decides how many
  // blocks beat an interim floor and are estimated closely; a block settled against a lower
  // interim floor is within the tolerance of the final one too.
  std::vector<char> in_first_round(static_cast<std::size_t>(jobs), 0);
  for (Index r = 0; r < first; ++r) in_first_round[order[r]] = 1;
  std::deque<RunCursor> cursors;  // (not movable: a vector could not hold them)
  for (Index b = 0; b < runs.count(); ++b) cursors.emplace_back(runs.size(b));
  std::atomic<Index> next_run{0};
#pragma omp parallel num_threads(threads)
  {
    Workspace<T> ws;
#pragma omp for schedule(static)
    for (Index r = 0; r < first; ++r)
      if (!pruned_by_frobenius(order[r]))
        source.with_job(order[r], ws, [&](auto& buf) { process(order[r], buf, true); });
    for (;;) {
      // The next run in order; once every run is taken, where the source allows it, the
      // unfinished run with the most blocks left, shared with the thread on it (at ResNet 256
      // @14 the last runs of 8 blocks of ~0.5 ms each left the other thread idle 2–3 ms).
      Index b = -1;
      if (const Index r = next_run.fetch_add(1); r < runs.count()) {
        b = run_order[r];
      } else if constexpr (Source::kShareRuns) {
        Index most = 1;  // sharing a run's last block would save nothing
        for (Index x = 0; x < runs.count(); ++x) {
          const Index left = cursors[x].left();
          if (left > most) {
            most = left;
            b = x;
          }
        }
      }
      if (b < 0) break;
      source.for_run(
          runs, b, cursors[b], ws,
          [&](Index job) { return !in_first_round[job] && !pruned_by_frobenius(job); },
          [&](Index job, auto& buf) { process(job, buf, false); });
    }
  }
  NormBounds out;
  out.blocks = jobs;
  out.pruned = pruned;
  out.settled = settled;
  out.resolved = resolved;
  out.lanczos = by_lanczos;
  if (jobs == 0) return out;
  best = 0;
  for (Index job = 1; job < jobs; ++job)
    if (lower[job] > lower[best]) best = job;
  out.lower = lower[best];
  out.upper = *std::max_element(upper.begin(), upper.end());
  out.argmax = spectrum.frequency(best / groups);
  out.argmax_group = best % groups;
  if (options.top_vector_steps > 0) {
    Matrix<std::complex<T>> b;
    Vector<std::complex<T>> v;
    spectrum.block(best / groups, best % groups, b);
    power_lower_bound<std::complex<T>>(b, options.top_vector_steps, v);
    out.top_vector.assign(v.data(), v.data() + v.size());
  }
  return out;
}

}  // namespace

template <class T>
NormBounds circular_norm_bounds(const KernelSpectrum<T>& spectrum, const NormOptions& options) {
  return norm_bounds(spectrum, SpectrumBlocks<T>{spectrum},
                     rounding_margin(spectrum, spectrum.block_rows(), spectrum.block_cols()),
                     options);
}

NormBounds circular_norm_bounds(const KernelSpectrum<double>& spectrum, const TapGram& taps,
                                const NormOptions& options) {
  if (taps.frequency_count() != spectrum.frequency_count() ||
      taps.side() != std::min(spectrum.block_rows(), spectrum.block_cols()))
    throw std::invalid_argument("circular_norm_bounds: the TapGram is not of this spectrum's layer");
  // The Gram's rounding is in TapGram::rounding_bound(); left are the products and solvers on
  // the d × d matrices (as rounding_margin()'s first term), and no transform.
  RoundingMargin margin;
  margin.relative = 16.0 * std::numeric_limits<double>::epsilon() * double(taps.side());
  // Runs of at most one row u of the half grid (each shares TapGram's first pass), and at least
  // 4 per thread over all frequencies, so that a 1-D layer or a short torus still uses every
  // thread (a run split inside a row repeats that row's first pass: with 8 per thread, ResNet
  // 256 @14's rows of 8 frequencies were split in two, and its first passes doubled).
  const Index row = spectrum.folded()[1] / 2 + 1;
  const Index per = std::max<Index>(
      1, std::min(row, spectrum.frequency_count() * spectrum.conv().groups /
                           (4 * Index(detail::resolve_threads(options.threads)))));
  return norm_bounds(spectrum, TapBlocks{taps, spectrum.conv().groups, taps.rounding_bound(), per},
                     margin, options);
}

template RoundingMargin rounding_margin(const KernelSpectrum<float>&, Index, Index);
template RoundingMargin rounding_margin(const KernelSpectrum<double>&, Index, Index);
template std::vector<float> circular_singular_values(const KernelSpectrum<float>&,
                                                     const SpectrumOptions&);
template std::vector<double> circular_singular_values(const KernelSpectrum<double>&,
                                                      const SpectrumOptions&);
template NormBounds circular_norm_bounds(const KernelSpectrum<float>&, const NormOptions&);
template NormBounds circular_norm_bounds(const KernelSpectrum<double>&, const NormOptions&);

}  // namespace lipschitz
