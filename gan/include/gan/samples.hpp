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

}  // namespace lipschitz::gan
