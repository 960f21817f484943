#pragma once
// Private: FFTW's float and double APIs behind one template, and a move-only plan owner.

#include <fftw3.h>

#include <complex>
#include <mutex>
#include <utility>

namespace lipschitz::detail {

/// FFTW's planner is not thread-safe (only fftw_execute is); every planner call takes this.
inline std::mutex& fftw_planner_mutex() {
  static std::mutex m;
  return m;
}

template <class T>
struct Fftw;

template <>
struct Fftw<double> {
  using Plan = fftw_plan;
  using Cx = fftw_complex;
  static Plan r2c(int rank, const int* n, int howmany, double* in, int istride, int idist,
                  std::complex<double>* out, int ostride, int odist, unsigned flags = 0) {
    return fftw_plan_many_dft_r2c(rank, n, howmany, in, nullptr, istride, idist,
                                  reinterpret_cast<Cx*>(out), nullptr, ostride, odist,
                                  FFTW_ESTIMATE | flags);
  }
  static Plan c2r(int rank, const int* n, int howmany, std::complex<double>* in, int istride,
                  int idist, double* out, int ostride, int odist) {
    return fftw_plan_many_dft_c2r(rank, n, howmany, reinterpret_cast<Cx*>(in), nullptr, istride,
                                  idist, out, nullptr, ostride, odist,
                                  FFTW_ESTIMATE | FFTW_DESTROY_INPUT);
  }
  static void execute_r2c(Plan p, double* in, std::complex<double>* out) {
    fftw_execute_dft_r2c(p, in, reinterpret_cast<Cx*>(out));
  }
  static void execute_c2r(Plan p, std::complex<double>* in, double* out) {
    fftw_execute_dft_c2r(p, reinterpret_cast<Cx*>(in), out);
  }
  static void destroy(Plan p) { fftw_destroy_plan(p); }
};

template <>
struct Fftw<float> {
  using Plan = fftwf_plan;
  using Cx = fftwf_complex;
  static Plan r2c(int rank, const int* n, int howmany, float* in, int istride, int idist,
                  std::complex<float>* out, int ostride, int odist, unsigned flags = 0) {
    return fftwf_plan_many_dft_r2c(rank, n, howmany, in, nullptr, istride, idist,
                                   reinterpret_cast<Cx*>(out), nullptr, ostride, odist,
                                   FFTW_ESTIMATE | flags);
  }
  static Plan c2r(int rank, const int* n, int howmany, std::complex<float>* in, int istride,
                  int idist, float* out, int ostride, int odist) {
    return fftwf_plan_many_dft_c2r(rank, n, howmany, reinterpret_cast<Cx*>(in), nullptr, istride,
                                   idist, out, nullptr, ostride, odist,
                                   FFTW_ESTIMATE | FFTW_DESTROY_INPUT);
  }
  static void execute_r2c(Plan p, float* in, std::complex<float>* out) {
    fftwf_execute_dft_r2c(p, in, reinterpret_cast<Cx*>(out));
  }
  static void execute_c2r(Plan p, std::complex<float>* in, float* out) {
    fftwf_execute_dft_c2r(p, reinterpret_cast<Cx*>(in), out);
  }
  static void destroy(Plan p) { fftwf_destroy_plan(p); }
};

/// Owns one FFTW plan; move-only. Executing with new arrays (fftw_execute_dft_*) is thread-safe.
template <class T>
class FftPlan {
 public:
  using Plan = typename Fftw<T>::Plan;
  FftPlan() = default;
  explicit FftPlan(Plan p) : plan_(p) {}
  FftPlan(FftPlan&& o) noexcept : plan_(std::exchange(o.plan_, nullptr)) {}
  FftPlan& operator=(FftPlan&& o) noexcept {
    if (this != &o) {
      reset();
      plan_ = std::exchange(o.plan_, nullptr);
    }
    return *this;
  }
  FftPlan(const FftPlan&) = delete;
  FftPlan& operator=(const FftPlan&) = delete;
  ~FftPlan() { reset(); }
  Plan get() const { return plan_; }
  explicit operator bool() const { return plan_ != nullptr; }

 private:
  void reset() {
    if (plan_) {
      std::lock_guard<std::mutex> lock(fftw_planner_mutex());
      Fftw<T>::destroy(plan_);
      plan_ = nullptr;
    }
  }
  Plan plan_ = nullptr;
};

}  // namespace lipschitz::detail
