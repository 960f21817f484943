#pragma once
/// \file toy_data.hpp
/// The WGAN-GP paper's 2-D toy distributions (Gulrajani et al. 2017, released gan_toy.py;
/// ALGORITHMS.md §7), sampled with a caller-owned generator so runs are reproducible.

#include <ATen/core/Generator.h>
#include <ATen/core/Tensor.h>
#include <Eigen/Core>

#include <optional>
#include <string>

namespace lipschitz::gan {

/// A toy distribution in the plane.
enum class ToySet {
  eight_gaussians,       ///< 8 modes on the circle of radius 2, σ 0.02, all scaled by 1/1.414
  twentyfive_gaussians,  ///< modes on the grid {−4,−2,0,2,4}², σ 0.05, all scaled by 1/2.828
  swissroll              ///< sklearn's Swiss roll (noise 0.25) in the x–z plane, scaled by 1/7.5
};
/// "8gaussians", "25gaussians" or "swissroll".
std::string to_string(ToySet set);
/// The toy set called `name`, or nothing if `name` is not one (then it is a path).
std::optional<ToySet> toy_set_from_string(const std::string& name);

/// `n` samples as an n×2 float tensor on the CPU, drawn with `generator`.
at::Tensor sample_toy(ToySet set, std::int64_t n, at::Generator generator);

/// The mixture's mode centres (after scaling), one per row; empty for the Swiss roll.
Eigen::MatrixXd toy_modes(ToySet set);
/// Per-coordinate standard deviation of each mode after scaling (0 for the Swiss roll).
double toy_sigma(ToySet set);

}  // namespace lipschitz::gan
