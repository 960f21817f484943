#include <gan/toy_data.hpp>

#include <ATen/ATen.h>

#include <cmath>

namespace lipschitz::gan {

namespace {
// Scales of gan_toy.py (Gulrajani et al. 2017): the data are divided by these after sampling.
constexpr double kEightScale = 1.414;
constexpr double kTwentyFiveScale = 2.828;
constexpr double kSwissScale = 7.5;
constexpr double kPi = 3.14159265358979323846;
}  // namespace

Eigen::MatrixXd toy_modes(ToySet set);

namespace {
at::Tensor centres_tensor(ToySet set) {
  const Eigen::MatrixXd modes = toy_modes(set);
  at::Tensor c = at::empty({modes.rows(), 2}, at::kFloat);
  for (Eigen::Index i = 0; i < modes.rows(); ++i)
    for (Eigen::Index j = 0; j < 2; ++j) c[i][j] = static_cast<float>(modes(i, j));
  return c;
}
}  // namespace

std::string to_string(ToySet set) {
  switch (set) {
    case ToySet::eight_gaussians:
      return "8gaussians";
    case ToySet::twentyfive_gaussians:
      return "25gaussians";
    case ToySet::swissroll:
      return "swissroll";
  }
  return "?";
}

std::optional<ToySet> toy_set_from_string(const std::string& name) {
  if (name == "8gaussians") return ToySet::eight_gaussians;
  if (name == "25gaussians") return ToySet::twentyfive_gaussians;
  if (name == "swissroll") return ToySet::swissroll;
  return std::nullopt;
}

Eigen::MatrixXd toy_modes(ToySet set) {
  Eigen::MatrixXd modes;
  if (set == ToySet::eight_gaussians) {
    // Centres (±1, 0), (0, ±1), (±1/√2, ±1/√2) at radius 2, then the whole set / 1.414.
    const double r = 1.0 / std::sqrt(2.0);
    const double c[8][2] = {{1, 0}, {-1, 0}, {0, 1}, {0, -1}, {r, r}, {r, -r}, {-r, r}, {-r, -r}};
    modes.resize(8, 2);
    for (int i = 0; i < 8; ++i)
      for (int j = 0; j < 2; ++j) modes(i, j) = 2.0 * c[i][j] / kEightScale;
  } else if (set == ToySet::twentyfive_gaussians) {
    modes.resize(25, 2);
    int i = 0;
    for (int x = -2; x <= 2; ++x)
      for (int y = -2; y <= 2; ++y, ++i) {
        modes(i, 0) = 2.0 * x / kTwentyFiveScale;
        modes(i, 1) = 2.0 * y / kTwentyFiveScale;
      }
  }
  return modes;
}

double toy_sigma(ToySet set) {
  switch (set) {
    case ToySet::eight_gaussians:
      return 0.02 / kEightScale;
    case ToySet::twentyfive_gaussians:
      return 0.05 / kTwentyFiveScale;
    case ToySet::swissroll:
      return 0;
  }
  return 0;
}

at::Tensor sample_toy(ToySet set, std::int64_t n, at::Generator generator) {
  const auto options = at::TensorOptions().dtype(at::kFloat);
  if (set == ToySet::swissroll) {
    // sklearn.datasets.make_swiss_roll(noise=0.25): t = 1.5π(1 + 2u), (x, z) = (t cos t, t sin t)
    // plus N(0, 0.25²) noise; gan_toy.py keeps (x, z) and divides by 7.5.
    const at::Tensor t = (1.0 + 2.0 * at::rand({n}, generator, options)) * (1.5 * kPi);
    at::Tensor xy = at::stack({t * at::cos(t), t * at::sin(t)}, 1);
    xy = xy + 0.25 * at::randn({n, 2}, generator, options);
    return xy / kSwissScale;
  }
  // The centres as a tensor, built once per set (deliberately never destroyed: no static
  // destructor runs after LibTorch's own at exit).
  static const at::Tensor* const kCentres[2] = {
      new at::Tensor(centres_tensor(ToySet::eight_gaussians)),
      new at::Tensor(centres_tensor(ToySet::twentyfive_gaussians))};
  const at::Tensor& centres = *kCentres[set == ToySet::eight_gaussians ? 0 : 1];
  const at::Tensor which =
      at::randint(centres.size(0), {n}, generator, at::TensorOptions().dtype(at::kLong));
  return centres.index_select(0, which) + toy_sigma(set) * at::randn({n, 2}, generator, options);
}

}  // namespace lipschitz::gan
