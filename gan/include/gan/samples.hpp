#pragma once
/// \file samples.hpp
/// Pictures of what a generator makes: a grid of images, or for 2-D data a scatter plot of
/// generated points over real ones.

#include <gan/trainer.hpp>

#include <cstdint>
#include <string>

namespace lipschitz::gan {

/// Writes `count` samples of `trainer`'s generator to the PNG `path` (atomically). The latent
/// draws come from a generator seeded with `seed`, so the same seed shows the same latent points
/// at every step of a run (the grids of one run are comparable).
void write_samples(Trainer& trainer, const std::string& path, std::int64_t count,
                   std::uint64_t seed);

/// For 2-D toy data: writes the critic's value on a kSurfaceResolution² grid over
/// [−kSurfaceRange, kSurfaceRange]² (gan_toy.py's plot range) with real and generated points,
/// as JSON (atomically; docs/view.md gives the keys) — Figure 1a of Gulrajani et al. 2017.
/// Points come from a generator seeded with `seed`, like write_samples().
void write_critic_surface(Trainer& trainer, const std::string& path, std::uint64_t seed);

constexpr std::int64_t kSurfaceResolution = 64;
constexpr double kSurfaceRange = 3.0;
constexpr std::int64_t kSurfacePoints = 512;

}  // namespace lipschitz::gan
