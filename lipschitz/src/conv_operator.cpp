#include <lipschitz/conv_operator.hpp>

#include "fftw_plan.hpp"
#include "parallel.hpp"

#include <algorithm>
#include <limits>
#include <stdexcept>
#include <string>

namespace lipschitz {

Extent minimal_torus(const ForwardConv& conv) {
  Extent torus{};
  for (int a = 0; a < 2; ++a) {
    const Index k_eff = (conv.kernel[a] - 1) * conv.dilation[a] + 1;
    const Index s = conv.stride[a];
    Index need = conv.circular
                     ? conv.input[a]
                     : std::max(conv.input[a] + conv.padding[a], (conv.output[a] - 1) * s + k_eff);
    torus[a] = (need + s - 1) / s * s;
  }
  return torus;
}

template <class T>
struct ConvOperator<T>::Impl {
  using Complex = std::complex<T>;
  using RowMatrix = Eigen::Matrix<Complex, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
  using Vector = Eigen::Matrix<Complex, Eigen::Dynamic, 1>;

  const KernelSpectrum<T>* spectrum;
  ForwardConv conv;
  Extent torus;
  Index points = 0, half = 0, freqs = 0, c_in = 0, c_out = 0, in_g = 0, out_g = 0;
  int threads = 1;
  std::vector<T> real_in, real_out;
  std::vector<Complex> freq_in, freq_out;  // frequency-major: [f][channel]
  detail::FftPlan<T> r2c_in, c2r_in, r2c_out, c2r_out;

  Impl(const KernelSpectrum<T>& s, int t) : spectrum(&s), conv(s.conv()), torus(s.torus()) {
    if (!s.stored())
      throw std::invalid_argument(
          "ConvOperator needs a KernelSpectrum built with SpectrumStorage::stored");
    const Extent need = minimal_torus(conv);
    if (torus[0] < need[0] || torus[1] < need[1])
      throw std::invalid_argument("ConvOperator: torus " + std::to_string(torus[0]) + "x" +
                                  std::to_string(torus[1]) + " is smaller than the " +
                                  std::to_string(need[0]) + "x" + std::to_string(need[1]) +
                                  " the layer needs");
    threads = detail::resolve_threads(t);
    points = torus[0] * torus[1];
    half = torus[1] / 2 + 1;
    freqs = torus[0] * half;
    c_in = conv.in_channels;
    c_out = conv.out_channels;
    in_g = c_in / conv.groups;
    out_g = c_out / conv.groups;
    real_in.assign(static_cast<std::size_t>(c_in * points), T(0));
    real_out.assign(static_cast<std::size_t>(c_out * points), T(0));
    freq_in.assign(static_cast<std::size_t>(c_in * freqs), Complex(0));
    freq_out.assign(static_cast<std::size_t>(c_out * freqs), Complex(0));
    const int n[2] = {static_cast<int>(torus[0]), static_cast<int>(torus[1])};
    const int np = static_cast<int>(points);
    std::lock_guard<std::mutex> lock(detail::fftw_planner_mutex());
    using F = detail::Fftw<T>;
    r2c_in = detail::FftPlan<T>(
        F::r2c(2, n, int(c_in), real_in.data(), 1, np, freq_in.data(), int(c_in), 1));
    c2r_in = detail::FftPlan<T>(
        F::c2r(2, n, int(c_in), freq_in.data(), int(c_in), 1, real_in.data(), 1, np));
    r2c_out = detail::FftPlan<T>(
        F::r2c(2, n, int(c_out), real_out.data(), 1, np, freq_out.data(), int(c_out), 1));
    c2r_out = detail::FftPlan<T>(
        F::c2r(2, n, int(c_out), freq_out.data(), int(c_out), 1, real_out.data(), 1, np));
    if (!r2c_in || !c2r_in || !r2c_out || !c2r_out)
      throw std::runtime_error("FFTW could not plan the convolution transforms");
  }

  // Input pixel (a, b) sits at torus (p₁ + a, p₂ + b); output pixel (j₁, j₂) reads torus
  // position (j₁s₁, j₂s₂). With no wrap-around this is exactly the zero-padded layer.
  void apply(const T* x, T* y) {
    std::fill(real_in.begin(), real_in.end(), T(0));
    const Extent n = conv.input, m = conv.output, p = conv.padding, s = conv.stride;
    for (Index c = 0; c < c_in; ++c)
      for (Index a = 0; a < n[0]; ++a)
        std::copy(x + (c * n[0] + a) * n[1], x + (c * n[0] + a + 1) * n[1],
                  real_in.data() + c * points + (p[0] + a) * torus[1] + p[1]);
    detail::Fftw<T>::execute_r2c(r2c_in.get(), real_in.data(), freq_in.data());
    // Cross-correlation: Ŷ(ω) = conj(M(ω)) X̂(ω) (M is the DFT of the kernel, ALGORITHMS.md §1).
#pragma omp parallel for num_threads(threads) schedule(static)
    for (Index f = 0; f < freqs; ++f) {
      const Eigen::Map<const RowMatrix> mat(spectrum->half_matrix(f / half, f % half), c_out, in_g);
      const Eigen::Map<const Vector> xf(freq_in.data() + f * c_in, c_in);
      Eigen::Map<Vector> yf(freq_out.data() + f * c_out, c_out);
      for (Index g = 0; g < conv.groups; ++g)
        yf.segment(g * out_g, out_g).noalias() =
            mat.middleRows(g * out_g, out_g).conjugate() * xf.segment(g * in_g, in_g);
    }
    detail::Fftw<T>::execute_c2r(c2r_out.get(), freq_out.data(), real_out.data());
    const T scale = T(1) / T(points);
    for (Index o = 0; o < c_out; ++o)
      for (Index j1 = 0; j1 < m[0]; ++j1)
        for (Index j2 = 0; j2 < m[1]; ++j2)
          y[(o * m[0] + j1) * m[1] + j2] =
              scale *
              real_out[static_cast<std::size_t>(o * points + j1 * s[0] * torus[1] + j2 * s[1])];
  }

  void apply_adjoint(const T* y, T* x) {
    std::fill(real_out.begin(), real_out.end(), T(0));
    const Extent n = conv.input, m = conv.output, p = conv.padding, s = conv.stride;
    for (Index o = 0; o < c_out; ++o)
      for (Index j1 = 0; j1 < m[0]; ++j1)
        for (Index j2 = 0; j2 < m[1]; ++j2)
          real_out[static_cast<std::size_t>(o * points + j1 * s[0] * torus[1] + j2 * s[1])] =
              y[(o * m[0] + j1) * m[1] + j2];
    detail::Fftw<T>::execute_r2c(r2c_out.get(), real_out.data(), freq_out.data());
    // The adjoint of multiplying by conj(M) is multiplying by Mᵀ.
#pragma omp parallel for num_threads(threads) schedule(static)
    for (Index f = 0; f < freqs; ++f) {
      const Eigen::Map<const RowMatrix> mat(spectrum->half_matrix(f / half, f % half), c_out, in_g);
      const Eigen::Map<const Vector> yf(freq_out.data() + f * c_out, c_out);
      Eigen::Map<Vector> xf(freq_in.data() + f * c_in, c_in);
      for (Index g = 0; g < conv.groups; ++g)
        xf.segment(g * in_g, in_g).noalias() =
            mat.middleRows(g * out_g, out_g).transpose() * yf.segment(g * out_g, out_g);
    }
    detail::Fftw<T>::execute_c2r(c2r_in.get(), freq_in.data(), real_in.data());
    const T scale = T(1) / T(points);
    for (Index c = 0; c < c_in; ++c)
      for (Index a = 0; a < n[0]; ++a)
        for (Index b = 0; b < n[1]; ++b)
          x[(c * n[0] + a) * n[1] + b] =
              scale *
              real_in[static_cast<std::size_t>(c * points + (p[0] + a) * torus[1] + p[1] + b)];
  }
};

template <class T>
ConvOperator<T>::ConvOperator(const KernelSpectrum<T>& spectrum, int threads)
    : impl_(std::make_unique<Impl>(spectrum, threads)) {}
template <class T>
ConvOperator<T>::~ConvOperator() = default;
template <class T>
ConvOperator<T>::ConvOperator(ConvOperator&&) noexcept = default;
template <class T>
ConvOperator<T>& ConvOperator<T>::operator=(ConvOperator&&) noexcept = default;
template <class T>
Index ConvOperator<T>::input_size() const {
  return impl_->c_in * impl_->conv.input[0] * impl_->conv.input[1];
}
template <class T>
Index ConvOperator<T>::output_size() const {
  return impl_->c_out * impl_->conv.output[0] * impl_->conv.output[1];
}
template <class T>
void ConvOperator<T>::apply(const T* x, T* y) {
  impl_->apply(x, y);
}
template <class T>
void ConvOperator<T>::apply_adjoint(const T* y, T* x) {
  impl_->apply_adjoint(y, x);
}

template class ConvOperator<float>;
template class ConvOperator<double>;

template <class T>
SpatialConvOperator<T>::SpatialConvOperator(const T* weight, const ForwardConv& conv, int threads)
    : conv_(conv), threads_(detail::resolve_threads(threads)) {
  in_g_ = conv.in_channels / conv.groups;
  out_g_ = conv.out_channels / conv.groups;
  rows_ = in_g_ * conv.kernel[0] * conv.kernel[1];
  pixels_ = conv.output[0] * conv.output[1];
  // Output pixels per chunk: a chunk's im2col columns stay within ~8 MiB, and every thread
  // gets at least one chunk.
  const Index cap = std::max<Index>(64, (Index{1} << 20) / std::max<Index>(1, rows_));
  const Index per_thread = (pixels_ * conv.groups + threads_ - 1) / threads_;
  chunk_ = std::max<Index>(1, std::min(cap, (per_thread + conv.groups - 1) / conv.groups));
  chunks_ = (pixels_ + chunk_ - 1) / chunk_;
  weight_.assign(weight, weight + conv.out_channels * rows_);
  const Index k1 = conv.kernel[0], k2 = conv.kernel[1], m2 = conv.output[1];
  if (conv.input[0] * conv.input[1] > std::numeric_limits<std::int32_t>::max())
    throw std::invalid_argument("SpatialConvOperator: more than 2^31 input pixels per channel");
  tap_source_.resize(static_cast<std::size_t>(k1 * k2 * pixels_));
  for (Index t1 = 0; t1 < k1; ++t1)
    for (Index t2 = 0; t2 < k2; ++t2) {
      std::int32_t* out = tap_source_.data() + (t1 * k2 + t2) * pixels_;
      for (Index p = 0; p < pixels_; ++p) {
        const Index a = source(0, p / m2, t1), b = source(1, p % m2, t2);
        out[p] = a < 0 || b < 0 ? -1 : static_cast<std::int32_t>(a * conv.input[1] + b);
      }
    }
  // Per-thread scratch, allocated once: fresh multi-MB buffers at every application cost more
  // in page faults than the products.
  columns_.assign(static_cast<std::size_t>(threads_),
                  std::vector<T>(static_cast<std::size_t>(rows_ * chunk_)));
  partial_.assign(static_cast<std::size_t>(threads_),
                  std::vector<T>(static_cast<std::size_t>(input_size())));
}

template <class T>
Index SpatialConvOperator<T>::source(int a, Index j, Index t) const {
  const Index pos = j * conv_.stride[a] + t * conv_.dilation[a];
  const Index n = conv_.input[a];
  if (conv_.circular) return pos % n;
  const Index i = pos - conv_.padding[a];
  return i >= 0 && i < n ? i : -1;
}

template <class T>
template <class Visit>
void SpatialConvOperator<T>::for_each_tap(Index g, Index p0, Index count, Visit&& visit) const {
  // im2col row (i, t) with t = t₁k₂ + t₂, column q ↔ input pixel read by output pixel p0 + q
  // through tap t (tap_source_, so the inner loop has no index arithmetic).
  const Index taps = conv_.kernel[0] * conv_.kernel[1];
  const Index n_pixels = conv_.input[0] * conv_.input[1];
  for (Index i = 0; i < in_g_; ++i) {
    const Index channel = (g * in_g_ + i) * n_pixels;
    for (Index t = 0; t < taps; ++t) {
      const Index row = i * taps + t;
      const std::int32_t* from = tap_source_.data() + t * pixels_ + p0;
      for (Index q = 0; q < count; ++q)
        visit(row * chunk_ + q, from[q] < 0 ? Index(-1) : channel + from[q]);
    }
  }
}

template <class T>
void SpatialConvOperator<T>::apply(const T* x, T* y) {
  using RowMat = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
#pragma omp parallel num_threads(threads_)
  {
    Eigen::Map<RowMat> cols(columns_[static_cast<std::size_t>(detail::thread_index())].data(),
                            rows_, chunk_);
#pragma omp for collapse(2) schedule(static)
    for (Index g = 0; g < conv_.groups; ++g)
      for (Index c = 0; c < chunks_; ++c) {
        const Index p0 = c * chunk_, count = std::min(chunk_, pixels_ - p0);
        T* col = cols.data();
        for_each_tap(g, p0, count,
                     [&](Index at, Index from) { col[at] = from < 0 ? T(0) : x[from]; });
        const Eigen::Map<const RowMat> w(weight_.data() + g * out_g_ * rows_, out_g_, rows_);
        Eigen::Map<RowMat, 0, Eigen::OuterStride<>> out(y + g * out_g_ * pixels_ + p0, out_g_,
                                                        count, Eigen::OuterStride<>(pixels_));
        out.noalias() = w * cols.leftCols(count);
      }
  }
}

template <class T>
void SpatialConvOperator<T>::apply_adjoint(const T* y, T* x) {
  using RowMat = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
  std::fill(x, x + input_size(), T(0));
  // Chunks scatter into overlapping input pixels: each thread accumulates its own copy of x,
  // added up at the end.
#pragma omp parallel num_threads(threads_)
  {
    const auto t = static_cast<std::size_t>(detail::thread_index());
    Eigen::Map<RowMat> cols(columns_[t].data(), rows_, chunk_);
    std::vector<T>& local = partial_[t];
    std::fill(local.begin(), local.end(), T(0));
#pragma omp for collapse(2) schedule(static)
    for (Index g = 0; g < conv_.groups; ++g)
      for (Index c = 0; c < chunks_; ++c) {
        const Index p0 = c * chunk_, count = std::min(chunk_, pixels_ - p0);
        const Eigen::Map<const RowMat> w(weight_.data() + g * out_g_ * rows_, out_g_, rows_);
        const Eigen::Map<const RowMat, 0, Eigen::OuterStride<>> in(
            y + g * out_g_ * pixels_ + p0, out_g_, count, Eigen::OuterStride<>(pixels_));
        cols.leftCols(count).noalias() = w.transpose() * in;
        const T* col = cols.data();
        for_each_tap(g, p0, count, [&](Index at, Index to) {
          if (to >= 0) local[static_cast<std::size_t>(to)] += col[at];
        });
      }
#pragma omp critical
    for (Index i = 0; i < input_size(); ++i) x[i] += local[static_cast<std::size_t>(i)];
  }
}

template class SpatialConvOperator<float>;
template class SpatialConvOperator<double>;

}  // namespace lipschitz
