#include <lipschitz/conv_norm.hpp>
#include <lipschitz/buffer.hpp>

#include <lipschitz/conv_operator.hpp>

#include "parallel.hpp"

#include <Eigen/Eigenvalues>
#include <Eigen/SVD>

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <limits>
#include <type_traits>

namespace lipschitz {

std::string to_string(GramSource source) {
  switch (source) {
    case GramSource::automatic:
      return "auto";
    case GramSource::blocks:
      return "blocks";
    case GramSource::taps:
      return "taps";
  }
  return "?";
}

GramSource gram_source_from_string(const std::string& text) {
  if (text == "auto") return GramSource::automatic;
  if (text == "blocks") return GramSource::blocks;
  if (text == "taps") return GramSource::taps;
  throw std::invalid_argument("Gram source must be 'auto', 'blocks' or 'taps', got '" + text + "'");
}

std::string to_string(ConvMethod method) {
  switch (method) {
    case ConvMethod::circular_exact:
      return "circular-exact";
    case ConvMethod::dense_svd:
      return "dense-svd";
    case ConvMethod::torus_bound:
      return "torus-bound+lanczos";
  }
  return "?";
}

namespace {

double physical_memory_bytes() {
  const long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGE_SIZE);
  return pages > 0 && page > 0 ? double(pages) * double(page) : 8.0 * (1 << 30);
}

std::string gib(double bytes) {
  char buf[32];
  if (bytes >= double(1 << 30))
    std::snprintf(buf, sizeof buf, "%.2f GiB", bytes / double(1 << 30));
  else
    std::snprintf(buf, sizeof buf, "%.2f MiB", bytes / double(1 << 20));
  return buf;
}

double memory_limit(const ConvNormOptions& options) {
  return options.max_memory_bytes > 0 ? options.max_memory_bytes : 0.75 * physical_memory_bytes();
}

void check_memory(double need, const ConvNormOptions& options, const std::string& what) {
  const double allowed = memory_limit(options);
  if (need > allowed)
    throw ResourceError("the layer would need about " + gib(need) + " of memory for " + what +
                        ", more than the " + gib(allowed) +
                        " allowed (set a larger limit or a smaller input size)");
}

/// The power of two 2^e with max |w| · 2^−e in [1/2, 1) (0 for a zero weight); throws, naming
/// the first, if an entry is not finite. One branch-free pass (vectorised) in the usual case.
template <class T>
int finite_weight_exponent(const ConvSpec& spec, const T* weight) {
  const Index n = weight_size(spec);
  T largest = 0;
  Index bad = 0;
  for (Index i = 0; i < n; ++i) {
    const T a = std::abs(weight[i]);
    bad += !(a <= std::numeric_limits<T>::max());  // NaN and ±∞
    largest = a > largest ? a : largest;
  }
  if (bad > 0)
    for (Index i = 0; i < n; ++i)
      if (!std::isfinite(weight[i]))
        throw std::invalid_argument("weight entry " + std::to_string(i) + " is not finite (" +
                                    std::to_string(double(weight[i])) + ")");
  int e = 0;
  if (largest > 0) std::frexp(largest, &e);
  return e;
}

// The dense operator of a (small) forward convolution, column by column.
template <class T>
Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic> dense_operator(SpatialConvOperator<T>& op) {
  Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic> a(op.output_size(), op.input_size());
  Eigen::Matrix<T, Eigen::Dynamic, 1> e =
      Eigen::Matrix<T, Eigen::Dynamic, 1>::Zero(op.input_size());
  for (Index j = 0; j < op.input_size(); ++j) {
    e(j) = T(1);
    op.apply(e.data(), a.col(j).data());
    e(j) = T(0);
  }
  return a;
}

// Singular values of a dense matrix, descending: the Gram eigenvalues (fast, absolute accuracy
// ε·σ₁) or a Jacobi SVD (relative accuracy). Not BDCSVD: Eigen 3.4.0's returns wrong values
// when singular values repeat, as they do for convolutions.
template <class T>
std::vector<double> dense_singular_values(const Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic>& a,
                                          BlockSolver solver) {
  using Mat = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic>;
  Eigen::Matrix<T, Eigen::Dynamic, 1> s;
  if (solver == BlockSolver::svd) {
    s = Eigen::JacobiSVD<Mat>(a).singularValues();
  } else {
    const Mat g = a.rows() <= a.cols() ? Mat(a * a.transpose()) : Mat(a.transpose() * a);
    s = Eigen::SelfAdjointEigenSolver<Mat>(g, Eigen::EigenvaluesOnly)
            .eigenvalues()
            .cwiseMax(T(0))
            .cwiseSqrt();
  }
  std::vector<double> v(s.data(), s.data() + s.size());
  std::sort(v.begin(), v.end(), std::greater<double>());
  return v;
}

// Warm start for Lanczos: the plane wave that attains σ₁ of the circular layer on the torus,
// restricted to the input window. For inputs much larger than the kernel it is already close
// to optimal for the zero-padded layer (the two differ by boundary effects). Both conjugates
// of the block's singular vector are tried (cross-correlation conjugates M) and the better
// Rayleigh quotient kept.
template <class T, class Op>
std::vector<double> plane_wave_start(Op& op, const KernelSpectrum<T>& spectrum,
                                     const NormBounds& bounds) {
  const ForwardConv& conv = spectrum.conv();
  const Extent n = conv.input, p = conv.padding, N = spectrum.torus(), m = spectrum.folded();
  const Index in_g = conv.in_channels / conv.groups;
  if (Index(bounds.top_vector.size()) != in_g * conv.stride[0] * conv.stride[1]) return {};
  const double two_pi = 2.0 * std::acos(-1.0);
  std::vector<double> best, x(static_cast<std::size_t>(op.input_size()));
  std::vector<T> xt(x.size()), y(static_cast<std::size_t>(op.output_size()));
  double best_q = -1;
  for (double sign : {1.0, -1.0}) {
    std::fill(x.begin(), x.end(), 0.0);
    Index col = 0;
    for (Index a1 = 0; a1 < conv.stride[0]; ++a1)
      for (Index a2 = 0; a2 < conv.stride[1]; ++a2)
        for (Index i = 0; i < in_g; ++i, ++col) {
          const std::complex<double> v = bounds.top_vector[static_cast<std::size_t>(col)];
          const double f1 = double(bounds.argmax[0] + a1 * m[0]) / double(N[0]);
          const double f2 = double(bounds.argmax[1] + a2 * m[1]) / double(N[1]);
          const Index c = bounds.argmax_group * in_g + i;
          for (Index r = 0; r < n[0]; ++r)
            for (Index s = 0; s < n[1]; ++s) {
              const double phase = sign * two_pi * (f1 * double(p[0] + r) + f2 * double(p[1] + s));
              x[static_cast<std::size_t>((c * n[0] + r) * n[1] + s)] +=
                  (v * std::polar(1.0, phase)).real();
            }
        }
    std::copy(x.begin(), x.end(), xt.begin());
    op.apply(xt.data(), y.data());
    double ny = 0, nx = 0;
    for (T v : y) ny += double(v) * double(v);
    for (double v : x) nx += v * v;
    const double q = nx > 0 ? ny / nx : 0.0;
    if (q > best_q) {
      best_q = q;
      best = x;
    }
  }
  return best;
}

/// analyze_conv() on a weight already scaled to max |w| in [1/2, 1).
template <class T>
ConvNormResult analyze_scaled(const ConvSpec& spec, const T* weight, const ConvNormOptions& options) {
  if (!(options.tolerance >= 0))
    throw std::invalid_argument("tolerance must be non-negative, got " +
                                std::to_string(options.tolerance));
  const ForwardConv conv = forward_conv(spec);
  const Index in_dim = conv.in_channels * conv.input[0] * conv.input[1];
  const Index out_dim = conv.out_channels * conv.output[0] * conv.output[1];
  const int threads = detail::resolve_threads(options.threads);
  ConvNormResult r;

  // Small when the Gram matrix of the smaller side is small and the operator itself fits in
  // dense_limit² entries: wide or tall maps (a final 512×4×4 → 1 conv) are solved exactly, a
  // zero-padded one as one dense matrix. A small circular layer with a single frequency (a Linear
  // layer, a 1 × 1 conv on one pixel) is one matrix too: its block is solved rather than σ₁
  // certified only to the tolerance (a 128 × 128 Linear had been reported as
  // [3.41072, 3.41107] at the trainer's 1e-4).
  const bool small = std::min(in_dim, out_dim) <= options.dense_limit &&
                     double(in_dim) * double(out_dim) <=
                         double(options.dense_limit) * double(options.dense_limit);
  const bool dense = !conv.circular && small;
  const Extent torus = minimal_torus(conv);
  const bool one_frequency = torus[0] == conv.stride[0] && torus[1] == conv.stride[1];
  const bool every_block =
      conv.circular && (options.all_singular_values || (small && one_frequency));
  const double block_bytes = [&] {
    const double rows = double(conv.out_channels / conv.groups);
    const double cols = double(conv.in_channels / conv.groups * conv.stride[0] * conv.stride[1]);
    // Per thread a block, its Gram matrix and work copies; per frequency block the solvers'
    // bookkeeping (bounds and order, four 8-byte values).
    const double jobs =
        double(KernelSpectrum<T>::frequency_count(
            {torus[0] / conv.stride[0], torus[1] / conv.stride[1]})) *
        double(conv.groups);
    return 4.0 * threads * (rows * cols + std::min(rows, cols) * std::min(rows, cols)) *
               sizeof(std::complex<T>) +
           32.0 * jobs;
  }();
  // The cheaper operator by a cost model, in units of one multiply-add of a large matrix
  // product. The spatial operator does c_out·c_in/g·taps of them per output pixel, slower
  // when the product's smallest side c is small (factor 1 + 32/c: 2 at c = 32, 1.5 at 64,
  // 33 for depthwise). The FFT one transforms every channel on the torus (frequency-major
  // output, a cache-unfriendly transpose: weight 24) and streams every frequency's matrix
  // through a memory-bound product (weight 26). Fitted to apply + adjoint timed on this
  // project's machine (bench/README.md, "Lanczos operator"): the spatial operator wins for
  // 3×3 and 4×4 kernels at every width measured, depthwise included, the FFT one for 7×7
  // kernels and for 5×5 below ~200 channels.
  const Index taps = conv.kernel[0] * conv.kernel[1];
  const double points = double(torus[0]) * double(torus[1]);
  const double smallest_side =
      double(std::min(conv.out_channels / conv.groups, conv.in_channels / conv.groups * taps));
  const double spatial_cost = double(conv.out_channels) * double(conv.in_channels / conv.groups) *
                              double(taps) * double(conv.output[0] * conv.output[1]) *
                              (1.0 + 32.0 / smallest_side);
  const double fft_cost =
      double(conv.in_channels + conv.out_channels) * points * (std::log2(points) + 1.0) * 24.0 +
      double(torus[0] * (torus[1] / 2 + 1)) * double(conv.out_channels) *
          double(conv.in_channels / conv.groups) * 26.0;
  // (Zero padding only: the lower bound's operator; circular layers need none.)
  const bool fft_operator = !conv.circular && fft_cost < spatial_cost;

  // The σ₁ search's Gram matrices from tap products (TapGram) when the cost model prefers it or
  // the user asks, in double, for the search only (the full spectrum needs every block), and
  // not where the FFT operator above would need the stored spectrum. The blocks are then
  // never formed: the spectrum is kept on demand, which costs only a copy of the weight.
  const bool taps_possible = std::is_same_v<T, double> && !dense && !every_block;
  const bool use_taps =
      taps_possible && (options.gram_source == GramSource::taps ||
                        (options.gram_source == GramSource::automatic && !fft_operator &&
                         TapGram::preferred(conv, torus)));
  // Every frequency's matrix in memory when that fits the limit and max_stored_spectrum_bytes;
  // otherwise the blocks are computed when the solvers ask for them, a run of frequencies at a
  // time, in memory independent of the torus. (On demand was measured as the default too: in
  // a fresh process it saved faulting in the buffer's pages but recomputed and re-read more,
  // and it was 10–20 % slower in the median on the layers of bench/compare.py, up to 114 MB of
  // spectrum. From ~400 MB up it is as fast in the median, and spares the multi-second stalls
  // of faulting in GBs; bench/README.md.)
  SpectrumStorage storage = SpectrumStorage::stored;
  double spectrum_bytes = KernelSpectrum<T>::bytes_needed(conv, torus, threads, storage);
  if (use_taps || spectrum_bytes + block_bytes > memory_limit(options) ||
      spectrum_bytes > options.max_stored_spectrum_bytes) {
    storage = SpectrumStorage::on_demand;
    spectrum_bytes = KernelSpectrum<T>::bytes_needed(conv, torus, threads, storage);
  }
  if (use_taps) spectrum_bytes += TapGram::bytes_needed(conv, torus);
  check_memory(spectrum_bytes + block_bytes, options,
               "the frequency blocks on a " + std::to_string(torus[0]) + "x" +
                   std::to_string(torus[1]) + " torus");
  const KernelSpectrum<T> spectrum(weight, conv, torus, threads, storage);
  if (!dense) {  // the dense path builds the spectrum only for its margin
    r.torus = torus;
    r.spectrum_on_demand = !spectrum.stored() && !use_taps;
    r.gram_from_taps = use_taps;
  }
  // The σ₁ search on the torus, from whichever source of Gram matrices was chosen.
  auto search = [&](const NormOptions& no) {
    if constexpr (std::is_same_v<T, double>) {
      if (use_taps) return circular_norm_bounds(spectrum, TapGram(weight, conv, torus, threads), no);
    }
    return circular_norm_bounds(spectrum, no);
  };
  NormOptions norm_options;
  norm_options.tolerance = options.tolerance;
  norm_options.gram_steps = options.gram_steps;
  norm_options.threads = threads;

  if (conv.circular) {
    r.method = ConvMethod::circular_exact;
    if (!every_block) {
      r.circular = search(norm_options);
      r.lower_bound = r.circular.lower;
      r.upper_bound = r.circular.upper;
    } else {
      // Every block solved (asked for, or a small layer): σ₁ is the first value, widened by the
      // rounding margin.
      check_memory(spectrum_bytes + block_bytes +
                       double(out_dim < in_dim ? out_dim : in_dim) * (sizeof(T) + sizeof(double)),
                   options, "the full list of singular values");
      SpectrumOptions so;
      so.solver = options.solver;
      so.threads = threads;
      const std::vector<T> sv = circular_singular_values(spectrum, so);
      r.singular_values.assign(sv.begin(), sv.end());
      const RoundingMargin margin =
          rounding_margin(spectrum, spectrum.block_rows(), spectrum.block_cols());
      const double s1 = r.singular_values.empty() ? 0.0 : r.singular_values.front();
      r.lower_bound = margin.lower(s1);
      r.upper_bound = margin.upper(s1);
      r.circular.lower = r.lower_bound;
      r.circular.upper = r.upper_bound;
      r.circular.blocks = r.circular.resolved = spectrum.frequency_count() * conv.groups;
      if (!options.all_singular_values) r.singular_values.clear();
    }
  } else if (dense) {
    r.method = ConvMethod::dense_svd;
    const double d = double(std::min(in_dim, out_dim));
    check_memory(spectrum_bytes + (double(in_dim) * double(out_dim) * 2 + d * d * 2) * sizeof(T),
                 options, "the dense operator");
    // Through the spatial operator, column by column: each entry of the matrix is then a single
    // weight (or 0) copied exactly, so the only rounding is the solver's (zero padding has no
    // wrapped taps to add up).
    SpatialConvOperator<T> op(weight, conv, 1);
    const auto sv = dense_singular_values(dense_operator(op), options.solver);
    const RoundingMargin margin = rounding_margin(spectrum, out_dim, in_dim);
    const double s1 = sv.empty() ? 0.0 : sv.front();
    r.lower_bound = margin.lower(s1);
    r.upper_bound = margin.upper(s1);
    r.spectral_norm = s1;
    if (options.all_singular_values) r.singular_values = sv;
  } else {
    r.method = ConvMethod::torus_bound;
    NormOptions no = norm_options;
    no.top_vector_steps = 64;  // the Lanczos warm start below
    r.circular = search(no);
    r.upper_bound = r.circular.upper;
    // ALGORITHMS.md §4: the torus value bounds the zero-padded layer from above; Lanczos on the
    // true operator gives a lower bound reached by an actual input.
    // The FFT operator reads every frequency's matrix: without them in memory, spatial.
    const bool spatial = !fft_operator || !spectrum.stored();
    const double operator_bytes =
        spatial ? double(threads) * (double(in_dim) + double(1 << 20)) * sizeof(T) +
                      double(taps) * double(conv.output[0] * conv.output[1]) * 4.0
                : double(conv.in_channels + conv.out_channels) * double(torus[0] * torus[1]) *
                      (sizeof(T) + sizeof(std::complex<T>));
    const double krylov_bytes = double(options.lanczos_steps + 2) * double(in_dim) * sizeof(T);
    check_memory(spectrum_bytes + krylov_bytes + operator_bytes, options,
                 "the Lanczos lower bound");
    LanczosOptions lo;
    lo.threads = threads;
    lo.max_steps = options.lanczos_steps;
    lo.tolerance = std::min(lo.tolerance, options.tolerance);
    // Stop when more steps would move the lower bound by less than a tenth of the tolerance.
    lo.stagnation = 0.1 * options.tolerance;
    lo.target = r.upper_bound * (1 - options.tolerance);
    auto run_lanczos = [&](auto& op) {
      lo.start = plane_wave_start<T>(op, spectrum, r.circular);
      r.lanczos = lanczos_top_singular_value<T>(op, lo);
    };
    if (spatial) {
      SpatialConvOperator<T> op(weight, conv, threads);
      run_lanczos(op);
    } else {
      ConvOperator<T> op(spectrum, threads);
      run_lanczos(op);
    }
    // One application of T in floating point: each output is a sum of c_in·taps products
    // (spatial) or comes through two transforms (FFT), so its error is ≤ γ·√taps‖K‖_F·‖y‖ with
    // γ ∝ (c_in·taps + log₂ N)·ε: an absolute term on the kernel's norm scale.
    const double eps = std::numeric_limits<T>::epsilon();
    const double receptive = double(conv.in_channels / conv.groups * taps);
    RoundingMargin margin;
    margin.relative = 8.0 * eps * (double(conv.out_channels) + receptive);
    margin.absolute = 8.0 * eps * (std::log2(double(torus[0] * torus[1]) + 2.0) + receptive + 1.0) *
                      spectrum.norm_scale();
    r.lower_bound = margin.lower(r.lanczos.value);
  }
  if (r.method == ConvMethod::torus_bound) {
    // The Lanczos Ritz value is the best point estimate; keep it inside the certified interval.
    r.spectral_norm = std::min(std::max(r.lanczos.ritz, r.lower_bound), r.upper_bound);
  } else if (r.method == ConvMethod::circular_exact) {
    r.spectral_norm = 0.5 * (r.lower_bound + r.upper_bound);
  }
  // "Exact" is a statement about the answer, not the method: the certified interval is within
  // the tolerance (floored at 1e-9, the double-precision rounding of the largest blocks), up to
  // the transform's absolute rounding (which is all that is left when the operator is zero).
  // A float run of an exact method whose rounding margin is wider than that is not exact.
  const double absolute =
      rounding_margin(spectrum, spectrum.block_rows(), spectrum.block_cols()).absolute;
  r.exact = r.upper_bound - r.lower_bound <=
            std::max(options.tolerance, 1e-9) * r.upper_bound + 2 * absolute;
  return r;
}

/// x·2^e for a bound: exact unless the result leaves the normal range, and then rounded
/// outwards (down for a lower bound, up for an upper one), so that it still bounds: a σ₁ in the
/// subnormal range would otherwise come back as one value rounded to nearest, and a σ₁ above
/// the largest double as a lower bound of +∞.
double scale_bound(double x, int e, bool upper) {
  const double y = std::ldexp(x, e);
  if (!std::isfinite(x) || (std::isfinite(y) && std::ldexp(y, -e) == x)) return y;
  if (std::isinf(y)) return upper ? y : std::numeric_limits<double>::max();
  return std::nextafter(y, upper ? std::numeric_limits<double>::infinity() : 0.0);
}

/// analyze_conv() in precision T on a weight of type W (T, or double rounded to T): the weight
/// is scaled by a power of two in W, then rounded to T, so values outside T's range are analysed
/// rather than flushed to 0 or ∞.
template <class T, class W>
ConvNormResult analyze_rescaled(const ConvSpec& spec, const W* weight,
                                const ConvNormOptions& options) {
  const auto start = std::chrono::steady_clock::now();
  validate(spec);
  // Every solver squares the operator (Gram matrices, Lanczos on TᵀT), so a weight of scale
  // 1e±150 in double (1e±19 in float) would overflow or underflow there, and bounds computed
  // from ∞ or 0 certify nothing (they came out below the truth). The analysis therefore runs
  // on the weight times 2^−e, which is exact, and the results are scaled back by 2^e, exact
  // unless they leave the normal range (then rounded outwards, scale_bound). Entries below
  // 2^−1022 (2^−126) of the largest lose digits in the scaled copy, at most 2^−1075 (2^−150)
  // each, far inside the absolute rounding margin, which is computed from the scaled weight.
  const int e = finite_weight_exponent(spec, weight);
  detail::Buffer<T> scaled;
  const T* data = nullptr;
  if constexpr (std::is_same_v<T, W>) {
    if (e == 0) data = weight;  // already in range: no copy
  }
  if (!data) {
    scaled = detail::Buffer<T>(static_cast<std::size_t>(weight_size(spec)));
    if (-e < std::numeric_limits<W>::max_exponent) {
      // A product by 2^−e (itself exact in W) rounds as ldexp does: exact but in the subnormal
      // range. Without a library call per entry (3 ms of ResNet 256's 50).
      const W factor = W(std::ldexp(1.0, -e));
      for (std::size_t i = 0; i < scaled.size(); ++i) scaled[i] = T(weight[i] * factor);
    } else {
      for (std::size_t i = 0; i < scaled.size(); ++i) scaled[i] = T(std::ldexp(weight[i], -e));
    }
    data = scaled.data();
  }
  ConvNormResult r = analyze_scaled(spec, data, options);
  // The width the scaled analysis certified; what rounding the bounds outwards adds to it must
  // stay within the tolerance for the answer to remain "exact".
  const double width = std::ldexp(r.upper_bound - r.lower_bound, e);
  r.lower_bound = scale_bound(r.lower_bound, e, false);
  r.upper_bound = scale_bound(r.upper_bound, e, true);
  if (!std::isfinite(r.upper_bound) ||
      !(r.upper_bound - r.lower_bound - width <= std::max(options.tolerance, 1e-9) * r.upper_bound))
    r.exact = false;
  r.circular.lower = scale_bound(r.circular.lower, e, false);
  r.circular.upper = scale_bound(r.circular.upper, e, true);
  r.lanczos.value = scale_bound(r.lanczos.value, e, false);
  r.lanczos.ritz = std::ldexp(r.lanczos.ritz, e);
  r.spectral_norm = std::min(std::max(std::ldexp(r.spectral_norm, e), r.lower_bound), r.upper_bound);
  for (double& v : r.singular_values) v = std::ldexp(v, e);
  if (std::isnan(r.lower_bound) || std::isnan(r.upper_bound))
    throw std::runtime_error("the bounds could not be computed (a NaN arose); please report this layer");
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return r;
}

}  // namespace

template <class T>
ConvNormResult analyze_conv(const ConvSpec& spec, const T* weight, const ConvNormOptions& options) {
  return analyze_rescaled<T, T>(spec, weight, options);
}

template <class T>
ConvNormResult analyze_conv_in(const ConvSpec& spec, const double* weight,
                               const ConvNormOptions& options) {
  return analyze_rescaled<T, double>(spec, weight, options);
}

template <class T>
double reshaped_weight_norm(const ConvSpec& spec, const T* weight, int threads) {
  validate(spec);
  const Index d0 = spec.weight_dim0, d1 = spec.weight_dim1, taps = spec.kernel[0] * spec.kernel[1];
  // Rows: dim 0 (Conv) or dim 1 (ConvTranspose, where spectral_norm uses dim = 1).
  const Index rows = spec.transposed ? d1 : d0, cols = weight_size(spec) / rows;
  // Scaled by 2^−e like analyze_conv(), so that the Gram matrix neither overflows nor
  // underflows; a product by a power of two is exact, and the value is scaled back at the end.
  const int e = finite_weight_exponent(spec, weight);
  const double scale = std::ldexp(1.0, -e);
  // Row-major: a convolution's reshape is then the weight's own layout, copied in one pass.
  using Matrix = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
  Matrix w(rows, cols);
  if (!spec.transposed) {
    w = Eigen::Map<const Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>>(
            weight, rows, cols).template cast<double>() * scale;
  } else {
    for (Index a = 0; a < d0; ++a)
      for (Index b = 0; b < d1; ++b)
        for (Index t = 0; t < taps; ++t)
          w(b, a * taps + t) = double(weight[(a * d1 + b) * taps + t]) * scale;
  }
  LanczosOptions lo;
  lo.tolerance = 1e-12;
  // σ₁(W)² = λ₁ of the Gram matrix on W's smaller side. Formed by GEMMs on the threads (its
  // lower triangle, in panels of 64 columns; 512 × 4608 in ~25 ms on 2 cores), it leaves Lanczos
  // a small matrix that stays in cache. Lanczos on W itself reads all of W twice per step, which
  // for that reshape took longer than the layer's own certified analysis
  // (bench/python_conv_norm.py). Above kMaxGramSide the Gram matrix would be too large to hold,
  // and Lanczos runs on W.
  constexpr Index kMaxGramSide = 2048, kPanel = 64;
  const Index side = std::min(rows, cols);
  const bool gram = side <= kMaxGramSide;
  Matrix g(gram ? side : 0, gram ? side : 0);
  if (gram) {
    const Index panels = (side + kPanel - 1) / kPanel;
#pragma omp parallel for num_threads(detail::resolve_threads(threads)) schedule(dynamic)
    for (Index p = 0; p < panels; ++p) {
      const Index j = p * kPanel, nb = std::min(kPanel, side - j), below = side - j;
      if (rows <= cols)  // G = W Wᵀ
        g.block(j, j, below, nb).noalias() = w.middleRows(j, below) * w.middleRows(j, nb).transpose();
      else  // G = Wᵀ W
        g.block(j, j, below, nb).noalias() = w.middleCols(j, below).transpose() * w.middleCols(j, nb);
    }
    for (Index i = 0; i < side; ++i)  // the upper triangle by symmetry
      for (Index j = i + 1; j < side; ++j) g(i, j) = g(j, i);
  }
  struct DenseOp {
    const Matrix& m;
    Index input_size() const { return m.cols(); }
    Index output_size() const { return m.rows(); }
    void apply(const double* x, double* y) const {
      Eigen::Map<Eigen::VectorXd>(y, m.rows()).noalias() =
          m * Eigen::Map<const Eigen::VectorXd>(x, m.cols());
    }
    void apply_adjoint(const double* y, double* x) const {
      Eigen::Map<Eigen::VectorXd>(x, m.cols()).noalias() =
          m.transpose() * Eigen::Map<const Eigen::VectorXd>(y, m.rows());
    }
  } op{gram ? g : w};
  const double top = lanczos_top_singular_value<double>(op, lo).value;  // λ₁(G), or σ₁(W)
  return std::ldexp(gram ? std::sqrt(top) : top, e);
}

template ConvNormResult analyze_conv(const ConvSpec&, const float*, const ConvNormOptions&);
template ConvNormResult analyze_conv(const ConvSpec&, const double*, const ConvNormOptions&);
template ConvNormResult analyze_conv_in<float>(const ConvSpec&, const double*,
                                               const ConvNormOptions&);
template ConvNormResult analyze_conv_in<double>(const ConvSpec&, const double*,
                                                const ConvNormOptions&);
template double reshaped_weight_norm(const ConvSpec&, const float*, int);
template double reshaped_weight_norm(const ConvSpec&, const double*, int);

}  // namespace lipschitz
