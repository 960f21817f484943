// LipSDP-Neuron through CSDP's library call and the ECLipsE-Fast-style elimination
// (sdp_bound.hpp); both end in search_certificate() (lmi_certificate.hpp), the only place a
// printed bound comes from.
#include <lipschitz/sdp_bound.hpp>

#include <lipschitz/lmi_certificate.hpp>

#include <Eigen/Cholesky>
#include <Eigen/Eigenvalues>

#include <csdp/declarations.h>  // C, with its own extern "C"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <mutex>
#include <new>
#include <sstream>
#include <stdexcept>
#include <string>
#include <utility>

namespace lipschitz {

namespace {

using Clock = std::chrono::steady_clock;
constexpr double kInfinity = std::numeric_limits<double>::infinity();
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
/// Rates assumed by the max_seconds guard, pessimistic for two cores (measured: 1.5–3 times
/// faster): BLAS-bound work and CSDP's scalar loops; and the iterations a solve takes
/// (20–40 measured).
constexpr double kBlasFlopRate = 2e10;
constexpr double kScalarFlopRate = 2e9;
constexpr int kTypicalIterations = 40;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

std::string format(double x) {
  std::ostringstream s;
  s.precision(10);
  s << x;
  return s.str();
}

void check_chain(const AffineChain& chain, const NeuronSlopes& slopes, const char* who) {
  const int m = chain.depth();
  const std::string name(who);
  if (m < 1) throw std::invalid_argument(name + ": the chain needs at least one affine map: depth = 0");
  for (std::size_t i = 1; i < chain.weights.size(); ++i)
    if (chain.weights[i].cols() != chain.weights[i - 1].rows())
      throw std::invalid_argument(name + ": W_" + std::to_string(i + 1) + " must have as many columns as W_" +
                                  std::to_string(i) + " has rows: columns = " +
                                  std::to_string(chain.weights[i].cols()) +
                                  ", rows = " + std::to_string(chain.weights[i - 1].rows()));
  const auto hidden = static_cast<std::size_t>(m - 1);
  if (slopes.lower.size() != hidden || slopes.upper.size() != hidden)
    throw std::invalid_argument(name + ": slopes need one vector per activation layer: m - 1 = " +
                                std::to_string(hidden) + ", lower has " +
                                std::to_string(slopes.lower.size()) + ", upper has " +
                                std::to_string(slopes.upper.size()));
  for (std::size_t i = 0; i < hidden; ++i) {
    const Index n = chain.weights[i].rows();
    if (slopes.lower[i].size() != n || slopes.upper[i].size() != n)
      throw std::invalid_argument(name + ": slopes of activation layer " + std::to_string(i + 1) +
                                  " must have one entry per neuron: neurons = " + std::to_string(n) +
                                  ", lower has " + std::to_string(slopes.lower[i].size()) +
                                  ", upper has " + std::to_string(slopes.upper[i].size()));
  }
}

/// The cases that need no LMI: non-finite data (uncertified) and a zero W_k (f is constant,
/// Lip = 0). True when `r` is final.
bool settle_trivial(const AffineChain& chain, const NeuronSlopes& slopes, SdpBound& r) {
  for (std::size_t i = 0; i < chain.weights.size(); ++i) {
    if (!chain.weights[i].allFinite()) {
      r.status = "non-finite weights in W_" + std::to_string(i + 1);
      return true;
    }
  }
  for (std::size_t i = 0; i < slopes.lower.size(); ++i) {
    if (!slopes.lower[i].allFinite() || !slopes.upper[i].allFinite() ||
        (slopes.lower[i].array() > slopes.upper[i].array()).any()) {
      r.status = "invalid slopes of activation layer " + std::to_string(i + 1) +
                 " (non-finite, or lower > upper)";
      return true;
    }
  }
  for (std::size_t i = 0; i < chain.weights.size(); ++i) {
    if (chain.weights[i].isZero(0)) {
      r.status = "constant: W_" + std::to_string(i + 1) + " = 0";
      r.upper_bound = 0;
      r.rho = 0;
      r.certified = true;
      r.solver_value = 0;
      return true;
    }
  }
  return false;
}

/// max_p max(|α_p|, |β_p|) of activation layer i (0-based).
double max_slope(const NeuronSlopes& slopes, std::size_t i) {
  if (slopes.lower[i].size() == 0) return 0;
  return std::max(slopes.lower[i].cwiseAbs().maxCoeff(), slopes.upper[i].cwiseAbs().maxCoeff());
}

/// ‖W‖₂ to a few digits (power iteration on WᵀW): for scaling only.
double norm_estimate(const Eigen::MatrixXd& w) {
  if (w.size() == 0) return 0;
  Eigen::VectorXd v = Eigen::VectorXd::LinSpaced(w.cols(), 1.0, 2.0).normalized();
  double lambda = 0;
  for (int it = 0; it < 40; ++it) {
    const Eigen::VectorXd u = w.transpose() * (w * v);
    const double n = u.norm();
    if (!(n > 0)) break;
    lambda = n;
    v = u / n;
  }
  return std::sqrt(lambda);
}

/// Fills `r` from a certificate search.
void take_certificate(const LipsdpCertificate& c, RhoSearch search, SdpBound& r) {
  if (!c.certified) return;
  r.certified = true;
  r.rho = c.rho;
  r.upper_bound = std::nextafter(std::sqrt(c.rho), kInfinity);
  r.multipliers = c.multipliers;
  r.status += "; certified (" + to_string(search) + ", " + std::to_string(c.checks) +
              " factorisations): rho = " + format(c.rho);
}

// ---------------------------------------------------------------------------------------
// CSDP. Its problem: max tr(CX) s.t. tr(A_i X) = a_i, X ⪰ 0, with the dual
// min aᵀy s.t. Σ y_i A_i − C = Z ⪰ 0. Ours is the dual with y = (ρ, t_{1,1}, …):
// −M(ρ, T) − ηI = ρ·E_00 + Σ t_{i,p}(−G_{i,p}) − (F + ηI) ⪰ 0 in block 1 (size d) and t ≥ 0
// in a diagonal block 2 (size k − 1), where M = −ρE_00 + Σ t_{i,p}G_{i,p} + F, F = W_mᵀW_m in
// the last block, G_{i,p} = −e eᵀ − α_pβ_p w wᵀ + c_p(e wᵀ + w eᵀ) for e = x_{i,p}'s unit
// vector, w = row p of W_i placed at x_{i−1}, c_p = (α_p + β_p)/2.
// CSDP indexes from 1 (vectors' element 0 unused; matrices column-major, ijtok), stores
// only the upper triangle of constraint blocks, and frees what free_prob() is given.
// ---------------------------------------------------------------------------------------

template <class T>
T* c_alloc(std::size_t count) {
  void* p = std::calloc(count, sizeof(T));
  if (p == nullptr) throw std::bad_alloc();
  return static_cast<T*>(p);
}

/// One problem in CSDP's own storage, freed by free_prob().
struct CsdpProblem {
  int n = 0, k = 0;
  blockmatrix C{0, nullptr};
  double* a = nullptr;
  constraintmatrix* constraints = nullptr;
  blockmatrix X{0, nullptr}, Z{0, nullptr};
  double* y = nullptr;

  CsdpProblem() = default;
  CsdpProblem(const CsdpProblem&) = delete;
  CsdpProblem& operator=(const CsdpProblem&) = delete;
  ~CsdpProblem() { free_prob(n, k, C, a, constraints, X, y, Z); }
};

struct Entry {
  int i, j;  // 1-based, i ≤ j
  double value;
};

/// Appends a block of constraint `number` (1-based) to its list (kept in block order).
void add_block(CsdpProblem& p, int number, int block, const std::vector<Entry>& entries) {
  sparseblock* b = c_alloc<sparseblock>(1);
  // Linked first, so that free_prob() owns it whatever happens next.
  sparseblock** tail = &p.constraints[number].blocks;
  while (*tail != nullptr) tail = &(*tail)->next;
  *tail = b;
  const std::size_t count = entries.size();
  b->entries = c_alloc<double>(count + 1);
  b->iindices = c_alloc<int>(count + 1);
  b->jindices = c_alloc<int>(count + 1);
  b->numentries = static_cast<int>(count);
  b->blocknum = block;
  b->blocksize = p.C.blocks[block].blocksize;
  b->constraintnum = number;
  for (std::size_t q = 0; q < count; ++q) {
    b->iindices[q + 1] = entries[q].i;
    b->jindices[q + 1] = entries[q].j;
    b->entries[q + 1] = entries[q].value;
  }
}

/// Builds the problem for the (normalised) weights `w`.
void build_problem(CsdpProblem& p, const std::vector<Eigen::MatrixXd>& w, const NeuronSlopes& slopes,
                   double eta) {
  const std::size_t m = w.size();
  Index d_index = w.front().cols();
  for (std::size_t i = 0; i + 1 < m; ++i) d_index += w[i].rows();
  const int d = static_cast<int>(d_index);
  const int hidden = static_cast<int>(d_index - w.front().cols());
  p.k = 1 + hidden;
  p.n = d + hidden;
  const int blocks = hidden > 0 ? 2 : 1;
  p.C.nblocks = blocks;
  p.C.blocks = c_alloc<blockrec>(static_cast<std::size_t>(blocks) + 1);
  p.C.blocks[1].blockcategory = MATRIX;
  p.C.blocks[1].blocksize = d;
  p.C.blocks[1].data.mat = c_alloc<double>(static_cast<std::size_t>(d) * static_cast<std::size_t>(d));
  if (hidden > 0) {
    p.C.blocks[2].blockcategory = DIAG;
    p.C.blocks[2].blocksize = hidden;
    p.C.blocks[2].data.vec = c_alloc<double>(static_cast<std::size_t>(hidden) + 1);
  }
  // C = F + ηI in block 1 (exactly symmetric), 0 in block 2.
  const Eigen::MatrixXd f = w.back().transpose() * w.back();
  const int last = d - static_cast<int>(f.rows());
  double* c = p.C.blocks[1].data.mat;
  for (int j = 1; j <= d; ++j) c[ijtok(j, j, d)] = eta;
  for (Index col = 0; col < f.cols(); ++col) {
    for (Index row = col; row < f.rows(); ++row) {
      const int i1 = last + static_cast<int>(row) + 1, j1 = last + static_cast<int>(col) + 1;
      c[ijtok(i1, j1, d)] += f(row, col);
      if (i1 != j1) c[ijtok(j1, i1, d)] = c[ijtok(i1, j1, d)];
    }
  }
  p.a = c_alloc<double>(static_cast<std::size_t>(p.k) + 1);
  p.a[1] = 1.0;
  p.constraints = c_alloc<constraintmatrix>(static_cast<std::size_t>(p.k) + 1);

  // Constraint 1, ρ: the identity on x_0.
  std::vector<Entry> entries;
  const int n0 = static_cast<int>(w.front().cols());
  for (int j = 1; j <= n0; ++j) entries.push_back({j, j, 1.0});
  add_block(p, 1, 1, entries);
  // Constraints 2 …: −G_{i,p} in block 1 and e_q in block 2.
  int number = 1, prev = 0;
  for (std::size_t i = 0; i + 1 < m; ++i) {
    const Eigen::MatrixXd& wi = w[i];
    const int cols = static_cast<int>(wi.cols()), cur = prev + cols;
    for (Index r = 0; r < wi.rows(); ++r) {
      ++number;
      const double alpha = slopes.lower[i](r), beta = slopes.upper[i](r);
      const double ab = alpha * beta, cp = 0.5 * (alpha + beta);
      const int e = cur + static_cast<int>(r) + 1;
      entries.clear();
      for (int jc = 0; jc < cols; ++jc) {
        const double wj = wi(r, jc);
        if (wj == 0) continue;
        if (ab != 0)
          for (int lc = jc; lc < cols; ++lc)
            if (wi(r, lc) != 0) entries.push_back({prev + jc + 1, prev + lc + 1, ab * wj * wi(r, lc)});
        if (cp != 0) entries.push_back({prev + jc + 1, e, -cp * wj});
      }
      entries.push_back({e, e, 1.0});
      add_block(p, number, 1, entries);
      add_block(p, number, 2, {{number - 1, number - 1, 1.0}});
    }
    prev = cur;
  }
}

/// Estimated seconds of one CSDP iteration: op_o as easy_sdp's sparsity rule sets it up
/// (a dense constraint block costs two d × d products through BLAS, a sparse one its
/// pairings with every other, in scalar code), the factorisation of the k × k matrix O and
/// a dozen dense d × d operations.
double iteration_seconds(const std::vector<Eigen::MatrixXd>& w, const NeuronSlopes& slopes) {
  double d = double(w.front().cols()), k = 1;
  for (std::size_t i = 0; i + 1 < w.size(); ++i) {
    d += double(w[i].rows());
    k += double(w[i].rows());
  }
  // Block-1 entries of each constraint, as build_problem() makes them.
  std::vector<double> entries{double(w.front().cols())};
  for (std::size_t i = 0; i + 1 < w.size(); ++i) {
    for (Index r = 0; r < w[i].rows(); ++r) {
      const double nonzero = double((w[i].row(r).array() != 0).count());
      const double alpha = slopes.lower[i](r), beta = slopes.upper[i](r);
      entries.push_back(1 + (alpha + beta != 0 ? nonzero : 0) +
                        (alpha * beta != 0 ? nonzero * (nonzero + 1) / 2 : 0));
    }
  }
  double dense = 0, sparse_entries = 0;
  for (const double e : entries) {
    if (k * k * e * e > 0.125 * k * d * d * d && e > 5)
      dense += 4 * d * d * d + 2 * e * k;
    else
      sparse_entries += e;
  }
  return (dense + k * k * k / 3 + 12 * d * d * d) / kBlasFlopRate +
         2.0 * sparse_entries * sparse_entries / kScalarFlopRate;
}

/// Frees a block matrix made by alloc_mat() or alloc_mat_packed().
struct Work {
  blockmatrix m{0, nullptr};
  bool packed = false;
  Work() = default;
  Work(const Work&) = delete;
  Work& operator=(const Work&) = delete;
  ~Work() {
    if (m.blocks == nullptr) return;
    if (packed)
      free_mat_packed(m);
    else
      free_mat(m);
  }
};

struct CsdpOutcome {
  int code = -1;
  double pobj = kNaN, dobj = kNaN;
};

std::mutex& csdp_mutex() {
  static std::mutex mutex;
  return mutex;
}

/// easy_sdp() without its parameter file, printing and exit()-on-bad-input checks: the
/// same storage set-up (sparsity of each constraint block, cross links, fill), then sdp().
CsdpOutcome run_sdp(CsdpProblem& p, const SdpOptions& options) {
  paramstruc params{};
  params.axtol = options.tolerance;
  params.atytol = options.tolerance;
  params.objtol = options.tolerance;
  params.pinftol = 1.0e8;
  params.dinftol = 1.0e8;
  params.maxiter = options.max_iterations;
  params.minstepfrac = 0.90;
  params.maxstepfrac = 0.97;
  params.minstepp = 1.0e-8;
  params.minstepd = 1.0e-8;
  params.usexzgap = 1;
  params.tweakgap = 0;
  params.affine = 0;
  params.perturbobj = 1;
  params.fastmode = 0;
  const int printlevel = 0;
  const int n = p.n, k = p.k;

  initsoln(n, k, p.C, p.a, p.constraints, &p.X, &p.y, &p.Z);
  Work work1, work2, work3, bestx, bestz, cholxinv, cholzinv, zi, dz, dx;
  alloc_mat(p.C, &work1.m);
  alloc_mat(p.C, &work2.m);
  alloc_mat(p.C, &work3.m);
  for (Work* w : {&bestx, &bestz, &cholxinv, &cholzinv}) {
    alloc_mat_packed(p.C, &w->m);
    w->packed = true;
  }
  alloc_mat(p.C, &zi.m);
  alloc_mat(p.C, &dz.m);
  alloc_mat(p.C, &dx.m);
  const auto size_nk = static_cast<std::size_t>(std::max(n, k) + 1);
  const auto size_k = static_cast<std::size_t>(k + 1);
  std::vector<double> wv1(size_nk), wv2(size_nk), wv3(size_nk), wv4(size_nk), wv5(size_nk),
      wv6(size_nk), wv7(size_nk), wv8(size_nk), diag_o(size_nk);
  std::vector<double> besty(size_k), rhs(size_k), dy(size_k), dy1(size_k), fp(size_k);
  const int ldam = (k % 2 == 0) ? k + 1 : k;
  std::vector<double> o(static_cast<std::size_t>(ldam) * static_cast<std::size_t>(ldam));

  // Sparse or dense handling of each constraint block (easy_sdp's rule), and the links
  // between the blocks of different constraints that share a block of X.
  for (int i = 1; i <= k; ++i) {
    for (sparseblock* b = p.constraints[i].blocks; b != nullptr; b = b->next) {
      const double e = b->numentries, bs = b->blocksize;
      b->issparse = (1.0 * k * k * e * e > 0.125 * (1.0 * k * bs * bs * bs) && b->numentries > 5) ? 0 : 1;
      if (p.C.blocks[b->blocknum].blockcategory == DIAG) b->issparse = 1;
      b->nextbyblock = nullptr;
    }
  }
  std::vector<sparseblock*> last_of_block(static_cast<std::size_t>(p.C.nblocks) + 1, nullptr);
  std::vector<sparseblock*> byblocks(static_cast<std::size_t>(p.C.nblocks) + 1, nullptr);
  for (int i = 1; i <= k; ++i) {
    for (sparseblock* b = p.constraints[i].blocks; b != nullptr; b = b->next) {
      const auto blk = static_cast<std::size_t>(b->blocknum);
      if (byblocks[blk] == nullptr)
        byblocks[blk] = b;
      else
        last_of_block[blk]->nextbyblock = b;
      last_of_block[blk] = b;
    }
  }
  constraintmatrix fill{nullptr};
  makefill(k, p.C, p.constraints, &fill, work1.m, printlevel);
  struct FillGuard {
    constraintmatrix& fill;
    ~FillGuard() {
      sparseblock* b = fill.blocks;
      while (b != nullptr) {
        sparseblock* next = b->next;
        std::free(b->entries);
        std::free(b->iindices);
        std::free(b->jindices);
        std::free(b);
        b = next;
      }
    }
  } fill_guard{fill};
  sort_entries(k, p.C, p.constraints);

  CsdpOutcome out;
  out.code = sdp(n, k, p.C, p.a, 0.0, p.constraints, byblocks.data(), fill, p.X, p.y, p.Z,
                 cholxinv.m, cholzinv.m, &out.pobj, &out.dobj, work1.m, work2.m, work3.m,
                 wv1.data(), wv2.data(), wv3.data(), wv4.data(), wv5.data(), wv6.data(),
                 wv7.data(), wv8.data(), diag_o.data(), bestx.m, besty.data(), bestz.m, zi.m,
                 o.data(), rhs.data(), dz.m, dx.m, dy.data(), dy1.data(), fp.data(), printlevel,
                 params);
  return out;
}

std::string csdp_code(int code) {
  switch (code) {
    case 0: return "CSDP: solved";
    case 1: return "CSDP: primal infeasible";
    case 2: return "CSDP: dual infeasible";
    case 3: return "CSDP: solved to reduced accuracy";
    case 4: return "CSDP: iteration limit reached";
    case 5: return "CSDP: stuck at the edge of primal feasibility";
    case 6: return "CSDP: stuck at the edge of dual feasibility";
    case 7: return "CSDP: lack of progress";
    case 8: return "CSDP: X, Z or O singular";
    case 9: return "CSDP: NaN or Inf encountered";
    default: return "CSDP: return code " + std::to_string(code);
  }
}

// ---------------------------------------------------------------------------------------
// ECLipsE-Fast-style elimination.
// ---------------------------------------------------------------------------------------

/// λ_max of a symmetric matrix (0 for an empty one).
double lambda_max(const Eigen::MatrixXd& a) {
  if (a.rows() == 0) return 0;
  return Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd>(a, Eigen::EigenvaluesOnly).eigenvalues().maxCoeff();
}
double lambda_min(const Eigen::MatrixXd& a) {
  if (a.rows() == 0) return kInfinity;
  return Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd>(a, Eigen::EigenvaluesOnly).eigenvalues().minCoeff();
}

/// R(τ) = τI − τ² CW (S + τK)⁻¹ (CW)ᵀ and its λ_min, or −∞ where S + τK is not positive
/// definite (K empty: none).
struct Pivot {
  double tau = 0;
  double min_eigenvalue = -kInfinity;
  Eigen::MatrixXd r;
};
Pivot next_pivot(const Eigen::MatrixXd& s, const Eigen::MatrixXd& k, const Eigen::MatrixXd& cw, double tau,
                 int& factorisations) {
  Pivot out;
  out.tau = tau;
  ++factorisations;
  const Eigen::LLT<Eigen::MatrixXd> llt(k.size() == 0 ? s : Eigen::MatrixXd(s + tau * k));
  if (llt.info() != Eigen::Success) return out;
  const Eigen::MatrixXd y = llt.matrixL().solve(cw.transpose());  // L⁻¹(CW)ᵀ
  out.r = -(tau * tau) * (y.transpose() * y);
  out.r.diagonal().array() += tau;
  ++factorisations;
  out.min_eigenvalue = lambda_min(out.r);
  if (!std::isfinite(out.min_eigenvalue)) out.min_eigenvalue = -kInfinity;
  return out;
}

/// argmax over τ > 0 of λ_min(R(τ)), concave in τ, from the start τ0: doubling steps to a
/// bracket, then golden section in log τ.
Pivot best_pivot(const Eigen::MatrixXd& s, const Eigen::MatrixXd& k, const Eigen::MatrixXd& cw, double tau0,
                 int& factorisations) {
  constexpr int kMaxSteps = 60, kGoldenSteps = 30;
  const auto at = [&](double log_tau) { return next_pivot(s, k, cw, std::exp2(log_tau), factorisations); };
  double x = std::log2(tau0);
  Pivot best = at(x);
  for (int step = 0; step < kMaxSteps && !(best.min_eigenvalue > 0); ++step) best = at(x -= 1);
  if (!(best.min_eigenvalue > 0)) return best;
  double lo = x - 1, hi = x + 1;
  Pivot up = at(x + 1);
  if (up.min_eigenvalue > best.min_eigenvalue) {
    for (int step = 0; step < kMaxSteps; ++step) {
      Pivot next = at(x + 2);
      x += 1;
      best = std::move(up);
      if (!(next.min_eigenvalue > best.min_eigenvalue)) break;
      up = std::move(next);
    }
    lo = x - 1;
    hi = x + 1;
  } else {
    for (int step = 0; step < kMaxSteps; ++step) {
      Pivot down = at(x - 1);
      if (!(down.min_eigenvalue > best.min_eigenvalue)) break;
      best = std::move(down);
      x -= 1;
    }
    lo = x - 1;
    hi = x + 1;
  }
  const double g = (std::sqrt(5.0) - 1) / 2;
  double x1 = hi - g * (hi - lo), x2 = lo + g * (hi - lo);
  Pivot p1 = at(x1), p2 = at(x2);
  for (int step = 0; step < kGoldenSteps; ++step) {
    if (p1.min_eigenvalue >= p2.min_eigenvalue) {
      hi = x2;
      x2 = x1;
      p2 = std::move(p1);
      x1 = hi - g * (hi - lo);
      p1 = at(x1);
    } else {
      lo = x1;
      x1 = x2;
      p1 = std::move(p2);
      x2 = lo + g * (hi - lo);
      p2 = at(x2);
    }
  }
  Pivot& inner = p1.min_eigenvalue >= p2.min_eigenvalue ? p1 : p2;
  if (inner.min_eigenvalue > best.min_eigenvalue) return std::move(inner);
  return best;
}

}  // namespace

SdpBound lipsdp_neuron(const AffineChain& chain, const NeuronSlopes& slopes, const SdpOptions& options) {
  const auto start = Clock::now();
  check_chain(chain, slopes, "lipsdp_neuron");
  if (options.max_iterations < 1)
    throw std::invalid_argument("lipsdp_neuron: max_iterations must be >= 1: max_iterations = " +
                                std::to_string(options.max_iterations));
  if (!(options.strictness >= 0) || !std::isfinite(options.strictness))
    throw std::invalid_argument("lipsdp_neuron: strictness must be finite and >= 0: strictness = " +
                                format(options.strictness));
  if (!(options.tolerance > 0) || !std::isfinite(options.tolerance))
    throw std::invalid_argument("lipsdp_neuron: tolerance must be finite and > 0: tolerance = " +
                                format(options.tolerance));
  if (!(options.max_seconds >= 0))
    throw std::invalid_argument("lipsdp_neuron: max_seconds must be >= 0: max_seconds = " +
                                format(options.max_seconds));
  SdpBound r;
  r.method = "lipsdp_neuron";
  r.iterations = -1;
  if (settle_trivial(chain, slopes, r)) {
    r.seconds = seconds_since(start);
    return r;
  }
  const Index d = lipsdp_dimension(chain);
  if (d > options.max_lmi_size) {
    r.status = "refused: LMI dimension " + std::to_string(d) + " exceeds max_lmi_size = " +
               std::to_string(options.max_lmi_size);
    r.seconds = seconds_since(start);
    return r;
  }

  // Normalise: W̃_i = 2^{e_i} W_i with ‖W̃_i‖·(max slope of the activation after it) ∈ [1/2, 1).
  // x_i = 2^{−E_i} x̃_i, E_i = e_1 + ⋯ + e_i, is an exact congruence: M ⪯ 0 for (ρ, t) iff
  // M̃ ⪯ 0 for ρ̃ = 2^{2E_m}ρ, t̃_i = 2^{2E_m − 2E_i} t_i.
  const int m = chain.depth();
  std::vector<Eigen::MatrixXd> w(chain.weights.size());
  std::vector<int> cumulative(chain.weights.size() + 1, 0);
  for (std::size_t i = 0; i < chain.weights.size(); ++i) {
    const double slope = i + 1 < chain.weights.size() ? max_slope(slopes, i) : 1.0;
    const double g = norm_estimate(chain.weights[i]) * slope;
    int e = 0;
    if (g > 0 && std::isfinite(g)) {
      std::frexp(g, &e);
      e = -e;
    }
    w[i] = chain.weights[i] * std::ldexp(1.0, e);
    cumulative[i + 1] = cumulative[i] + e;
  }
  const double eta = options.strictness;

  const double estimate = std::min(options.max_iterations, kTypicalIterations) * iteration_seconds(w, slopes);
  if (options.max_seconds > 0 && std::isfinite(options.max_seconds) && estimate > options.max_seconds) {
    r.status = "refused: estimated solve time " + format(estimate) + " s exceeds max_seconds = " +
               format(options.max_seconds);
    r.seconds = seconds_since(start);
    return r;
  }
  std::vector<double> y;
  CsdpOutcome outcome;
  {
    const std::lock_guard<std::mutex> lock(csdp_mutex());
    CsdpProblem p;
    build_problem(p, w, slopes, eta);
    outcome = run_sdp(p, options);
    if (p.y != nullptr) y.assign(p.y, p.y + p.k + 1);
  }
  r.status = csdp_code(outcome.code);
  if (y.empty() || !std::isfinite(y[1]) || !(y[1] > 0)) {
    r.status += "; no usable point";
    r.seconds = seconds_since(start);
    return r;
  }
  // Undo the normalisation (exact: powers of two), clipping t ≥ 0.
  const int total = cumulative.back();
  const double rho = std::ldexp(y[1], -2 * total);
  r.solver_value = std::sqrt(rho);
  std::vector<Eigen::VectorXd> t(static_cast<std::size_t>(m - 1));
  std::size_t q = 2;
  bool finite = true;
  for (std::size_t i = 0; i + 1 < chain.weights.size(); ++i) {
    t[i].resize(chain.weights[i].rows());
    for (Index p = 0; p < t[i].size(); ++p, ++q) {
      const double value = std::max(y[q], 0.0);
      finite = finite && std::isfinite(value);
      t[i](p) = std::ldexp(value, 2 * cumulative[i + 1] - 2 * total);
    }
  }
  if (!finite) {
    r.status += "; non-finite multipliers";
    r.seconds = seconds_since(start);
    return r;
  }
  LipsdpCertificate c = search_certificate(chain, slopes, t, rho, RhoSearch::rho_only);
  RhoSearch used = RhoSearch::rho_only;
  if (!c.certified) {
    const int spent = c.checks;
    c = search_certificate(chain, slopes, t, rho, RhoSearch::joint);
    c.checks += spent;
    used = RhoSearch::joint;
  }
  if (c.certified)
    take_certificate(c, used, r);
  else
    r.status += "; certificate failed (" + std::to_string(c.checks) + " factorisations)";
  r.seconds = seconds_since(start);
  return r;
}

SdpBound eclipse_fast(const AffineChain& chain, const NeuronSlopes& slopes) {
  const auto start = Clock::now();
  check_chain(chain, slopes, "eclipse_fast");
  SdpBound r;
  r.method = "eclipse_fast";
  if (settle_trivial(chain, slopes, r)) {
    r.seconds = seconds_since(start);
    return r;
  }
  const std::size_t m = chain.weights.size();
  int factorisations = 0;
  // R_0 = ρI with ρ = 1 (the K_1 term is added when τ_1 is chosen).
  Eigen::MatrixXd s = Eigen::MatrixXd::Identity(chain.input_dim(), chain.input_dim());
  std::vector<double> tau(m - 1, 0.0);
  int searched = 0;  // layers whose τ needed the search
  for (std::size_t i = 0; i + 1 < m; ++i) {
    const Eigen::MatrixXd& wi = chain.weights[i];
    const Eigen::VectorXd c = (slopes.lower[i] + slopes.upper[i]) * 0.5;
    const Eigen::VectorXd ab = slopes.lower[i].cwiseProduct(slopes.upper[i]);
    const Eigen::MatrixXd cw = c.asDiagonal() * wi;
    // The closed form without K_i: τ = 1/(2λ_max(P)), P = CW R⁻¹ (CW)ᵀ.
    Pivot closed;
    {
      ++factorisations;
      const Eigen::LLT<Eigen::MatrixXd> llt(s);
      if (llt.info() != Eigen::Success) {
        r.status = "elimination failed: pivot " + std::to_string(i) + " not positive definite";
        r.iterations = factorisations;
        r.seconds = seconds_since(start);
        return r;
      }
      const Eigen::MatrixXd y = llt.matrixL().solve(cw.transpose());
      const Eigen::MatrixXd p = y.transpose() * y;
      ++factorisations;
      const double lambda = lambda_max(p);
      tau[i] = lambda > 0 ? 0.5 / lambda : 1.0;
      closed.r = -(tau[i] * tau[i]) * p;
      closed.r.diagonal().array() += tau[i];
    }
    if ((ab.array() != 0).any()) {
      // τ_i also enters the previous pivot, R_{i−1} + τ_iK_i: search for the best.
      const Eigen::MatrixXd k = wi.transpose() * ab.asDiagonal() * wi;
      Pivot best = best_pivot(s, k, cw, tau[i], factorisations);
      if (!(best.min_eigenvalue > 0)) {
        r.status = "elimination failed: no multiplier of activation layer " + std::to_string(i + 1) +
                   " keeps the pivots positive definite";
        r.iterations = factorisations;
        r.seconds = seconds_since(start);
        return r;
      }
      tau[i] = best.tau;
      s = std::move(best.r);
      ++searched;
    } else {
      s = std::move(closed.r);
    }
  }
  // The last pivot: ρ·R_{m−1} ⪰ W_mᵀW_m iff ρ ≥ s = ‖W_m R_{m−1}^{−1/2}‖² = ‖L⁻¹W_mᵀ‖².
  ++factorisations;
  const Eigen::LLT<Eigen::MatrixXd> llt(s);
  r.iterations = factorisations + 1;
  if (llt.info() != Eigen::Success) {
    r.status = "elimination failed: last pivot not positive definite";
    r.seconds = seconds_since(start);
    return r;
  }
  const Eigen::MatrixXd y = llt.matrixL().solve(chain.weights.back().transpose());
  const double rho = y.rows() <= y.cols() ? lambda_max(y * y.transpose()) : lambda_max(y.transpose() * y);
  if (!(rho > 0) || !std::isfinite(rho)) {
    r.status = "elimination failed: rho = " + format(rho);
    r.seconds = seconds_since(start);
    return r;
  }
  r.solver_value = std::sqrt(rho);
  r.status = searched == 0 ? "closed form"
                           : "closed form, tau searched in " + std::to_string(searched) + " of " +
                                 std::to_string(m - 1) + " layers";
  std::vector<Eigen::VectorXd> t(m - 1);
  for (std::size_t i = 0; i + 1 < m; ++i) t[i] = Eigen::VectorXd::Constant(chain.weights[i].rows(), rho * tau[i]);
  const LipsdpCertificate c = search_certificate(chain, slopes, t, rho, RhoSearch::joint);
  if (c.certified)
    take_certificate(c, RhoSearch::joint, r);
  else
    r.status += "; certificate failed (" + std::to_string(c.checks) + " factorisations)";
  r.seconds = seconds_since(start);
  return r;
}

}  // namespace lipschitz
