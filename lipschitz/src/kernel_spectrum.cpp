#include <lipschitz/kernel_spectrum.hpp>

#include "fftw_plan.hpp"

#include <cmath>
#include <stdexcept>
#include <string>

namespace lipschitz {

template <class T>
KernelSpectrum<T>::KernelSpectrum(const T* weight, const ForwardConv& conv, const Extent& torus)
    : conv_(conv), torus_(torus) {
  for (int a = 0; a < 2; ++a) {
    if (torus[a] < 1 || torus[a] % conv.stride[a] != 0)
      throw std::invalid_argument("torus size must be a positive multiple of the stride: torus = " +
                                  std::to_string(torus[a]) +
                                  ", stride = " + std::to_string(conv.stride[a]));
    folded_[a] = torus[a] / conv.stride[a];
  }
  half_ = torus_[1] / 2 + 1;
  const Index in_g = conv.in_channels / conv.groups;
  matrix_size_ = conv.out_channels * in_g;
  const Index points = torus_[0] * torus_[1];
  const Index kernel_taps = conv.kernel[0] * conv.kernel[1];

  // Each slice zero-padded to the torus; taps t·d wrap modulo N and add up (ALGORITHMS.md §1:
  // cropping instead, as numpy's fft2(K, n) does, gives wrong values when k_eff > N).
  double sum_squares = 0;
  for (Index i = 0; i < matrix_size_ * kernel_taps; ++i) sum_squares += double(weight[i]) * double(weight[i]);
  norm_scale_ = std::sqrt(double(kernel_taps) * sum_squares);

  std::vector<T> slices(static_cast<std::size_t>(matrix_size_ * points), T(0));
  for (Index s = 0; s < matrix_size_; ++s) {
    T* dst = slices.data() + s * points;
    const T* src = weight + s * kernel_taps;
    for (Index t1 = 0; t1 < conv.kernel[0]; ++t1) {
      const Index r = (t1 * conv.dilation[0]) % torus_[0];
      for (Index t2 = 0; t2 < conv.kernel[1]; ++t2) {
        const Index c = (t2 * conv.dilation[1]) % torus_[1];
        dst[r * torus_[1] + c] += src[t1 * conv.kernel[1] + t2];
      }
    }
  }
  data_.assign(static_cast<std::size_t>(torus_[0] * half_ * matrix_size_), Complex(0));

  // One batched r2c transform writing frequency-major output: slice s of frequency f lands at
  // data_[f · matrix_size_ + s], so each frequency is a contiguous row-major matrix.
  const int n[2] = {static_cast<int>(torus_[0]), static_cast<int>(torus_[1])};
  detail::FftPlan<T> plan;
  {
    std::lock_guard<std::mutex> lock(detail::fftw_planner_mutex());
    plan = detail::FftPlan<T>(detail::Fftw<T>::r2c(2, n, static_cast<int>(matrix_size_),
                                                    slices.data(), 1, static_cast<int>(points),
                                                    data_.data(), static_cast<int>(matrix_size_), 1));
  }
  if (!plan) throw std::runtime_error("FFTW could not plan the kernel transform");
  detail::Fftw<T>::execute_r2c(plan.get(), slices.data(), data_.data());
}

template <class T>
double KernelSpectrum<T>::bytes_needed(const ForwardConv& conv, const Extent& torus) {
  const double m = double(conv.out_channels) * double(conv.in_channels / conv.groups);
  const double points = double(torus[0]) * double(torus[1]);
  const double half = double(torus[0]) * double(torus[1] / 2 + 1);
  return m * (points * sizeof(T) + half * sizeof(Complex));
}

template <class T>
Index KernelSpectrum<T>::multiplicity(Index f) const {
  const Index v = frequency(f)[1];
  return (v == 0 || (folded_[1] % 2 == 0 && v == folded_[1] / 2)) ? 1 : 2;
}

template <class T>
typename KernelSpectrum<T>::Complex KernelSpectrum<T>::entry(Index u, Index v, Index o,
                                                            Index i) const {
  const Index in_g = conv_.in_channels / conv_.groups;
  if (v < half_) return data_[static_cast<std::size_t>((u * half_ + v) * matrix_size_ + o * in_g + i)];
  const Index cu = (torus_[0] - u) % torus_[0];
  const Index cv = torus_[1] - v;
  return std::conj(data_[static_cast<std::size_t>((cu * half_ + cv) * matrix_size_ + o * in_g + i)]);
}

template <class T>
void KernelSpectrum<T>::block(Index f, Index group, Matrix& out) const {
  const Extent nu = frequency(f);
  const Index rows = block_rows();
  const Index in_g = conv_.in_channels / conv_.groups;
  out.resize(rows, block_cols());
  // ALGORITHMS.md §2: the s₁s₂ aliases ν + a∘m side by side, scaled by (s₁s₂)^(−1/2).
  const T scale = T(1) / std::sqrt(T(conv_.stride[0] * conv_.stride[1]));
  Index col0 = 0;
  for (Index a1 = 0; a1 < conv_.stride[0]; ++a1) {
    for (Index a2 = 0; a2 < conv_.stride[1]; ++a2, col0 += in_g) {
      const Index u = nu[0] + a1 * folded_[0];
      const Index v = nu[1] + a2 * folded_[1];
      const bool stored = v < half_;
      const Index su = stored ? u : (torus_[0] - u) % torus_[0];
      const Index sv = stored ? v : torus_[1] - v;
      const Complex* m = data_.data() + (su * half_ + sv) * matrix_size_;
      for (Index o = 0; o < rows; ++o) {
        const Complex* row = m + (group * rows + o) * in_g;
        for (Index i = 0; i < in_g; ++i)
          out(o, col0 + i) = scale * (stored ? row[i] : std::conj(row[i]));
      }
    }
  }
}

template class KernelSpectrum<float>;
template class KernelSpectrum<double>;

}  // namespace lipschitz
