#include <lipschitz/kernel_spectrum.hpp>

#include "fftw_plan.hpp"
#include "parallel.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>

namespace lipschitz {

Extent folded_torus(const ForwardConv& conv, const Extent& torus) {
  Extent folded;
  for (int a = 0; a < 2; ++a) {
    if (torus[a] < 1 || torus[a] % conv.stride[a] != 0)
      throw std::invalid_argument("torus size must be a positive multiple of the stride: torus = " +
                                  std::to_string(torus[a]) +
                                  ", stride = " + std::to_string(conv.stride[a]));
    folded[a] = torus[a] / conv.stride[a];
  }
  return folded;
}

template <class T>
KernelSpectrum<T>::KernelSpectrum(const T* weight, const ForwardConv& conv, const Extent& torus,
                                  int threads, SpectrumStorage storage)
    : conv_(conv), torus_(torus), folded_(folded_torus(conv, torus)) {
  half_ = torus_[1] / 2 + 1;
  const Index in_g = conv.in_channels / conv.groups;
  matrix_size_ = conv.out_channels * in_g;
  const Index points = torus_[0] * torus_[1];
  const Index kernel_taps = conv.kernel[0] * conv.kernel[1];

  // Each slice zero-padded to the torus; taps t·d wrap modulo N and add up (ALGORITHMS.md §1:
  // cropping instead, as numpy's fft2(K, n) does, gives wrong values when k_eff > N).
  // Eight partial sums: one chain of dependent additions ran at a quarter of the memory's
  // speed (0.8 ms of ResNet 256's weight).
  double partial[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  const Index entries = matrix_size_ * kernel_taps;
  Index i = 0;
  for (; i + 8 <= entries; i += 8)
    for (int k = 0; k < 8; ++k) partial[k] += double(weight[i + k]) * double(weight[i + k]);
  for (; i < entries; ++i) partial[0] += double(weight[i]) * double(weight[i]);
  double sum_squares = 0;
  for (const double p : partial) sum_squares += p;
  norm_scale_ = std::sqrt(double(kernel_taps) * sum_squares);
  if (storage == SpectrumStorage::on_demand) {
    weight_ = detail::Buffer<T>(static_cast<std::size_t>(entries));
    std::copy(weight, weight + entries, weight_.data());
    return;
  }
  // Written once by the transform, no zero-filling first; 2 MiB-aligned and advised for huge
  // pages from 2 MiB up (page faults cost as much as the transform itself otherwise).
  data_ = detail::Buffer<Complex>(static_cast<std::size_t>(torus_[0] * half_ * matrix_size_));
  if (kernel_taps <= kDirectTaps) {
    direct_transform(weight, threads);
    return;
  }

  // Batched r2c transforms writing frequency-major output: slice s of frequency f lands at
  // data_[f · matrix_size_ + s], so each frequency is a contiguous row-major matrix. Slices go
  // through in chunks (≤ 4 Mi real values of scratch each), chunks in parallel.
  const Index chunk = std::max<Index>(1, std::min<Index>(matrix_size_, (Index{1} << 22) / points));
  const Index chunks = (matrix_size_ + chunk - 1) / chunk;
  const Index last = matrix_size_ - (chunks - 1) * chunk;
  const int n[2] = {static_cast<int>(torus_[0]), static_cast<int>(torus_[1])};
  std::vector<T> probe(static_cast<std::size_t>(chunk * points));
  detail::FftPlan<T> plan_full, plan_last;
  {
    std::lock_guard<std::mutex> lock(detail::fftw_planner_mutex());
    // FFTW_UNALIGNED: chunks write at offsets of data_ that need not keep SIMD alignment.
    plan_full = detail::FftPlan<T>(detail::Fftw<T>::r2c(
        2, n, static_cast<int>(chunk), probe.data(), 1, static_cast<int>(points), data_.data(),
        static_cast<int>(matrix_size_), 1, FFTW_UNALIGNED));
    plan_last = detail::FftPlan<T>(detail::Fftw<T>::r2c(
        2, n, static_cast<int>(last), probe.data(), 1, static_cast<int>(points), data_.data(),
        static_cast<int>(matrix_size_), 1, FFTW_UNALIGNED));
  }
  if (!plan_full || !plan_last)
    throw std::runtime_error("FFTW could not plan the kernel transform");
#pragma omp parallel num_threads(detail::resolve_threads(threads))
  {
    std::vector<T> slices(static_cast<std::size_t>(chunk * points));
#pragma omp for schedule(dynamic)
    for (Index k = 0; k < chunks; ++k) {
      const Index s0 = k * chunk, count = k + 1 < chunks ? chunk : last;
      std::fill(slices.begin(), slices.begin() + count * points, T(0));
      for (Index s = 0; s < count; ++s) {
        T* dst = slices.data() + s * points;
        const T* src = weight + (s0 + s) * kernel_taps;
        for (Index t1 = 0; t1 < conv.kernel[0]; ++t1) {
          const Index r = (t1 * conv.dilation[0]) % torus_[0];
          for (Index t2 = 0; t2 < conv.kernel[1]; ++t2) {
            const Index c = (t2 * conv.dilation[1]) % torus_[1];
            dst[r * torus_[1] + c] += src[t1 * conv.kernel[1] + t2];
          }
        }
      }
      detail::Fftw<T>::execute_r2c(k + 1 < chunks ? plan_full.get() : plan_last.get(),
                                   slices.data(), data_.data() + s0);
    }
  }
}

// One ν of each pair {ν, −ν}, u major: the half grid v ≤ m₂/2, where the self-conjugate
// columns v = 0 and (m₂ even) v = m₂/2 hold both (u, v) and (−u, v), so rows u > m₁/2 keep only
// their other columns. Computed, not listed: a 2²⁰ × 2²⁰ torus must not allocate a list before
// the memory guard refuses it.
template <class T>
Index KernelSpectrum<T>::frequency_count(const Extent& folded) {
  const Index columns = folded[1] / 2 + 1, boundary = folded[1] % 2 == 0 ? 2 : 1;
  const Index full_rows = folded[0] / 2 + 1;
  return full_rows * columns + (folded[0] - full_rows) * (columns - boundary);
}

template <class T>
Extent KernelSpectrum<T>::frequency(const Extent& folded, Index f) {
  const Index columns = folded[1] / 2 + 1, boundary = folded[1] % 2 == 0 ? 2 : 1;
  const Index full_rows = folded[0] / 2 + 1;
  if (f < full_rows * columns) return {f / columns, f % columns};
  const Index g = f - full_rows * columns;
  return {full_rows + g / (columns - boundary), 1 + g % (columns - boundary)};
}

template <class T>
typename KernelSpectrum<T>::Complex KernelSpectrum<T>::phase(Index u, Index v, Index t1,
                                                             Index t2) const {
  // Exact integer residues (u·t·d mod N), so wrapped taps (k_eff > N) need nothing special and
  // the angle is exact before the one rounding of cos/sin.
  const Index period = torus_[0] * torus_[1];
  const Index r1 = (u * t1 * conv_.dilation[0]) % torus_[0];
  const Index r2 = (v * t2 * conv_.dilation[1]) % torus_[1];
  const double angle = 2.0 * std::acos(-1.0) * double((r1 * torus_[1] + r2 * torus_[0]) % period) /
                       double(period);
  return Complex(T(std::cos(angle)), T(-std::sin(angle)));
}

template <class T>
void KernelSpectrum<T>::direct_transform(const T* weight, int threads) {
  // M(ω) = Σ_t K_t e^{−2πi(u t₁d₁/N₁ + v t₂d₂/N₂)}, by direct summation: O(taps) per entry
  // instead of the FFT's O(log N), but written straight into the frequency-major layout at
  // GEMM speed, where a strided FFT output thrashes the cache. The phase factorises over the
  // axes, so it is summed one axis at a time, as two products per chunk of slices:
  //   Y_t₁(s, v) = Σ_t₂ K_(t₁,t₂)(s) e^{−2πi v t₂d₂/N₂}           (real × complex, k₂ deep)
  //   M(u, v)(s) = Σ_t₁ Y_t₁(s, v) e^{−2πi u t₁d₁/N₁}              (complex, k₁ deep)
  // k₁(k₂ + N₁) multiply-adds per (s, v) instead of k₁k₂N₁ (one product over all taps spent a
  // quarter of 5×5 @12's σ₁ search there, at half the speed of a complex product).
  // Each per-axis phase comes from an exact integer residue (u·t·d mod N), so wrapped taps
  // (k_eff > N) are handled by the same formula; the product of the two phases adds one
  // rounding to each of the k₁k₂ terms, within the margin's 8ε·(taps + log₂ points + 1).
  using Mat = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic>;
  using CMat = Eigen::Matrix<Complex, Eigen::Dynamic, Eigen::Dynamic>;
  const Index k1 = conv_.kernel[0], k2 = conv_.kernel[1], n1 = torus_[0];
  const Eigen::Map<const Mat> w(weight, k1 * k2, matrix_size_);  // w(t, s) = weight[s·taps + t]
  CMat p2(k2, half_), p1(k1, n1);  // the per-axis phases, as phase() computes them
  for (Index t2 = 0; t2 < k2; ++t2)
    for (Index v = 0; v < half_; ++v) p2(t2, v) = phase(0, v, 0, t2);
  for (Index t1 = 0; t1 < k1; ++t1)
    for (Index u = 0; u < n1; ++u) p1(t1, u) = phase(u, 0, t1, 0);
  // Slices in chunks whose partial sums (k₁ + N₁ values per slice and v) fit in 1 MiB, and at
  // least 4 chunks per thread where there are enough slices.
  const int nthreads = detail::resolve_threads(threads);
  const Index fit =
      std::max<Index>(1, (Index(1) << 20) / (Index(sizeof(Complex)) * half_ * (k1 + n1)));
  const Index per =
      std::max<Index>(1, std::min<Index>(fit, (matrix_size_ + 4 * nthreads - 1) / (4 * nthreads)));
  const Index chunks = (matrix_size_ + per - 1) / per;
#pragma omp parallel num_threads(nthreads)
  {
    CMat y(per * half_, k1), z(per * half_, n1);
#pragma omp for schedule(dynamic)
    for (Index c = 0; c < chunks; ++c) {
      const Index s0 = c * per, count = std::min(per, matrix_size_ - s0), rows = count * half_;
      // Column t₁ of y holds Y_t₁ as count × half_, column-major.
      for (Index t1 = 0; t1 < k1; ++t1) {
        Eigen::Map<CMat> yt(y.col(t1).data(), count, half_);
        yt.noalias() = w.block(t1 * k2, s0, k2, count).transpose() * p2;  // real × complex
      }
      z.topRows(rows).noalias() = y.topRows(rows) * p1;
      // Column u of z holds M(u, ·) of these slices as count × half_: into data_, where
      // frequency (u, v) is a matrix_size_-long row.
      for (Index u = 0; u < n1; ++u)
        for (Index v = 0; v < half_; ++v)
          std::copy(z.col(u).data() + v * count, z.col(u).data() + (v + 1) * count,
                    data_.data() + (u * half_ + v) * matrix_size_ + s0);
    }
  }
}

template <class T>
double KernelSpectrum<T>::bytes_needed(const ForwardConv& conv, const Extent& torus, int threads,
                                       SpectrumStorage storage) {
  const double m = double(conv.out_channels) * double(conv.in_channels / conv.groups);
  const double taps = double(conv.kernel[0] * conv.kernel[1]);
  const double aliases = double(conv.stride[0] * conv.stride[1]);
  const double workers = double(detail::resolve_threads(threads));
  if (storage == SpectrumStorage::on_demand)
    // The weight copy, and per thread one prefetch run of alias matrices and its phases.
    return m * taps * sizeof(T) + workers * double(run_length(conv, torus, threads)) * aliases *
                                      (m / double(conv.groups) + taps) * sizeof(Complex);
  const double half = double(torus[0]) * double(torus[1] / 2 + 1);
  // The spectrum, plus the transform's scratch per thread: the direct sum's partial sums of a
  // chunk of slices (1 MiB, more only where one slice's alone is larger: (N₂/2+1)(k₁+N₁)
  // values), or at most 2²² values for the FFT chunks and the slices beside them.
  const double scratch =
      taps <= double(kDirectTaps)
          ? std::max(double(1 << 20), double(torus[1] / 2 + 1) *
                                          double(conv.kernel[0] + torus[0]) * sizeof(Complex))
          : std::min(m * double(torus[0]) * double(torus[1]), double(1 << 22)) * 2 * sizeof(T);
  return m * half * sizeof(Complex) + workers * scratch;
}

template <class T>
typename KernelSpectrum<T>::Complex KernelSpectrum<T>::entry(Index u, Index v, Index o,
                                                             Index i) const {
  const Index in_g = conv_.in_channels / conv_.groups;
  if (!stored()) {
    const Index kw = conv_.kernel[1];
    const T* w = weight_.data() + (o * in_g + i) * conv_.kernel[0] * kw;
    Complex sum = 0;
    for (Index t1 = 0; t1 < conv_.kernel[0]; ++t1)
      for (Index t2 = 0; t2 < kw; ++t2) sum += w[t1 * kw + t2] * phase(u, v, t1, t2);
    return sum;
  }
  if (v < half_) return data_[(u * half_ + v) * matrix_size_ + o * in_g + i];
  const Index cu = (torus_[0] - u) % torus_[0];
  const Index cv = torus_[1] - v;
  return std::conj(data_[(cu * half_ + cv) * matrix_size_ + o * in_g + i]);
}

template <class T>
void KernelSpectrum<T>::alias_views(Index f, Index group, AliasScratch& scratch,
                                    std::vector<AliasView>& views) const {
  const Extent nu = frequency(f);
  const Index rows = block_rows(), in_g = conv_.in_channels / conv_.groups;
  const Index size = rows * in_g;
  const Index s1 = conv_.stride[0], s2 = conv_.stride[1];
  views.resize(static_cast<std::size_t>(s1 * s2));
  if (stored()) {
    // The stored half grid; the other half through M(−ω) = conj M(ω). No copy.
    for (Index a = 0; a < s1 * s2; ++a) {
      const Index u = nu[0] + a / s2 * folded_[0], v = nu[1] + a % s2 * folded_[1];
      const bool half = v < half_;
      const Index su = half ? u : (torus_[0] - u) % torus_[0], sv = half ? v : torus_[1] - v;
      views[static_cast<std::size_t>(a)] = {
          data_.data() + (su * half_ + sv) * matrix_size_ + group * size, !half};
    }
    return;
  }
  // On demand: from the scratch's run, computed now if f is not in it.
  if (scratch.group != group || f < scratch.first || f >= scratch.first + scratch.count)
    prefetch(f, 1, group, scratch);
  const Index first_column = (f - scratch.first) * s1 * s2;
  for (Index a = 0; a < s1 * s2; ++a)
    views[static_cast<std::size_t>(a)] = {scratch.values.col(first_column + a).data(), false};
}

template <class T>
void KernelSpectrum<T>::prefetch(Index first, Index count, Index group,
                                 AliasScratch& scratch) const {
  if (stored()) return;
  // The direct sum of direct_transform for these frequencies only: the group's weight
  // (taps × rows·in_g, column s holding weight[s·taps ...]) against their phases, one product.
  const Index rows = block_rows(), in_g = conv_.in_channels / conv_.groups;
  const Index size = rows * in_g, taps = conv_.kernel[0] * conv_.kernel[1];
  const Index s1 = conv_.stride[0], s2 = conv_.stride[1];
  Eigen::Matrix<Complex, Eigen::Dynamic, Eigen::Dynamic> phases(taps, count * s1 * s2);
  for (Index j = 0; j < count; ++j) {
    const Extent nu = frequency(first + j);
    for (Index a = 0; a < s1 * s2; ++a) {
      const Index u = nu[0] + a / s2 * folded_[0], v = nu[1] + a % s2 * folded_[1];
      for (Index t1 = 0; t1 < conv_.kernel[0]; ++t1)
        for (Index t2 = 0; t2 < conv_.kernel[1]; ++t2)
          phases(t1 * conv_.kernel[1] + t2, j * s1 * s2 + a) = phase(u, v, t1, t2);
    }
  }
  using Mat = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic>;
  const Eigen::Map<const Mat> w(weight_.data() + group * size * taps, taps, size);
  scratch.values.noalias() = w.transpose() * phases;  // real × complex product
  scratch.first = first;
  scratch.count = count;
  scratch.group = group;
}

template <class T>
Index KernelSpectrum<T>::run_length(const ForwardConv& conv, const Extent& torus, int threads) {
  const double alias_bytes = double(conv.out_channels / conv.groups) *
                             double(conv.in_channels / conv.groups) *
                             double(conv.stride[0] * conv.stride[1]) * sizeof(Complex);
  const Index by_memory = Index(std::max(1.0, std::floor(double(kPrefetchBytes) / alias_bytes)));
  const Index runs = 8 * Index(detail::resolve_threads(threads));
  const Index by_balance =
      (frequency_count({torus[0] / conv.stride[0], torus[1] / conv.stride[1]}) + runs - 1) / runs;
  return std::max<Index>(1, std::min(by_memory, by_balance));
}

template <class T>
void KernelSpectrum<T>::real_block(Index f, Index group, RealMatrix& out,
                                   AliasScratch& scratch) const {
  if (!self_conjugate(f))
    throw std::invalid_argument("real_block: frequency " + std::to_string(f) +
                                " is not self-conjugate");
  const Extent nu = frequency(f);
  const Index rows = block_rows();
  const Index in_g = conv_.in_channels / conv_.groups;
  std::vector<AliasView> views;
  alias_views(f, group, scratch, views);
  out.resize(rows, block_cols());
  const T scale = T(1) / std::sqrt(T(conv_.stride[0] * conv_.stride[1]));
  const T scale2 = std::sqrt(T(2)) * scale;
  // 2ν = c∘m with c ∈ {0, 1}²; −(ν + a∘m) = ν + a'∘m (mod N) with a' = (−c − a) mod s, so
  // M(ν + a'∘m) = conj M(ν + a∘m).
  const Index c1 = 2 * nu[0] / folded_[0], c2 = 2 * nu[1] / folded_[1];
  const Index s1 = conv_.stride[0], s2 = conv_.stride[1];
  for (Index a1 = 0; a1 < s1; ++a1) {
    for (Index a2 = 0; a2 < s2; ++a2) {
      const Index p1 = ((-c1 - a1) % s1 + s1) % s1, p2 = ((-c2 - a2) % s2 + s2) % s2;
      const Index self = a1 * s2 + a2, partner = p1 * s2 + p2;
      if (partner < self) continue;  // written with its partner
      const AliasView& x = views[static_cast<std::size_t>(self)];
      // Conjugation only flips the sign of the imaginary part, which Q maps to its own
      // columns: x̄ in place of x gives the same block with those columns negated.
      const T im_scale = x.conjugate ? -scale2 : scale2;
      for (Index o = 0; o < rows; ++o) {
        const Complex* row = x.data + o * in_g;
        T* re = out.data() + o * out.cols() + self * in_g;
        if (partner == self) {
          // A real column group: the exact value is real, so its computed imaginary part is
          // rounding error of the transform, covered by the rounding margin's absolute term.
          for (Index i = 0; i < in_g; ++i) re[i] = scale * row[i].real();
        } else {
          T* im = out.data() + o * out.cols() + partner * in_g;
          for (Index i = 0; i < in_g; ++i) {
            re[i] = scale2 * row[i].real();
            im[i] = im_scale * row[i].imag();
          }
        }
      }
    }
  }
}

template <class T>
void KernelSpectrum<T>::block(Index f, Index group, Matrix& out, AliasScratch& scratch) const {
  const Index rows = block_rows();
  const Index in_g = conv_.in_channels / conv_.groups;
  std::vector<AliasView> views;
  alias_views(f, group, scratch, views);
  out.resize(rows, block_cols());
  // ALGORITHMS.md §2: the s₁s₂ aliases ν + a∘m side by side, scaled by (s₁s₂)^(−1/2).
  const T scale = T(1) / std::sqrt(T(conv_.stride[0] * conv_.stride[1]));
  using Row = Eigen::Map<const Eigen::Matrix<Complex, 1, Eigen::Dynamic>>;
  for (Index a = 0; a < Index(views.size()); ++a) {
    const AliasView& x = views[static_cast<std::size_t>(a)];
    for (Index o = 0; o < rows; ++o) {
      const Row row(x.data + o * in_g, in_g);
      if (x.conjugate)
        out.row(o).segment(a * in_g, in_g) = scale * row.conjugate();
      else
        out.row(o).segment(a * in_g, in_g) = scale * row;
    }
  }
}

template class KernelSpectrum<float>;
template class KernelSpectrum<double>;

}  // namespace lipschitz
