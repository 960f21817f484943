#pragma once
/// \file png_writer.hpp
/// PNG output for monitoring a GAN run: single images, grids of samples and 2-D scatter plots.
/// Every file is written atomically, so a viewer that polls it never sees half an image.

#include <cstdint>
#include <stdexcept>
#include <string>

namespace lipschitz::gan {

/// A PNG that cannot be encoded or written. The message names the file and the system's reason.
class ImageWriteError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// Writes an 8-bit PNG atomically (temp file in the same directory, then rename), so a reader
/// never sees a half-written file.
///
/// \param width, height size in pixels, ≥ 1 (and width·height·channels < 2^31)
/// \param channels 1 (grey), 2 (grey + alpha), 3 (RGB) or 4 (RGBA)
/// \param pixels height rows of width pixels, row-major, channels interleaved
/// \throws std::invalid_argument for sizes out of range or a null `pixels`.
/// \throws ImageWriteError when the file cannot be written ("cannot write PATH: REASON").
void write_png(const std::string& path, int width, int height, int channels,
               const std::uint8_t* pixels);

/// A grid of images (N×C×H×W floats in [-1,1], C = 1 or 3, values clamped), `columns` per row
/// (0 = ceil(sqrt(N))), 2-pixel gaps, upscaled by an integer `scale` (≥1) with nearest
/// neighbour.
///
/// A value v becomes the byte round((v + 1) · 127.5) after clamping to [-1, 1]; NaN becomes -1.
/// The tiles are separated from each other and from the border by 2 mid-grey (128) pixels, in
/// output pixels whatever `scale` is, so the result is
/// `cols·w·scale + 2·(cols + 1)` × `rows·h·scale + 2·(rows + 1)` with C channels, where
/// cols = min(columns, N) and rows = ceil(N / cols). The last row may be partly empty (grey).
///
/// Example: `write_image_grid("samples.png", x.data(), 64, 1, 28, 28, 8, 2)` writes an 8×8
/// grid of 56-pixel tiles, 466×466 pixels.
/// \throws std::invalid_argument for n, h, w < 1, c not 1 or 3, columns < 0, scale < 1, a null
///         `images`, or an output larger than 2^31 bytes.
/// \throws ImageWriteError as write_png.
void write_image_grid(const std::string& path, const float* images, std::int64_t n, std::int64_t c,
                      std::int64_t h, std::int64_t w, int columns = 0, int scale = 1);

/// How write_scatter_plot draws.
struct ScatterOptions {
  /// Side of the square image in pixels, 32…8192.
  int size_px = 512;
  /// Half-width of the square shown, centred at 0, in data units; 0 = from the data with a 10%
  /// margin (1.1 · the largest |coordinate|, or 1 when there is no finite nonzero point).
  double extent = 0;
};

/// Scatter plot of 2-D points: `real` in blue-grey, `generated` in orange on white, a thin axis
/// box and light grid lines at integer coordinates; points as 2-px discs. xy arrays are n×2
/// row-major.
///
/// Geometry: with c = (size_px − 1) / 2 and r = c − margin, margin = max(4, size_px / 32), the
/// point (x, y) is drawn at column round(c + x / extent · r) and row round(c − y / extent · r)
/// (y up) as a disc of radius 2 pixels; the box is the square of half-side r around (c, c).
/// Grid lines are at every integer coordinate when they are at least 8 pixels apart, else at
/// the multiples of the smallest power of ten that is; the lines through 0 are a little darker.
/// Real points are drawn first, generated ones over them. Points outside the box and
/// non-finite points are not drawn.
///
/// Example: `write_scatter_plot("modes.png", real.data(), 1000, fake.data(), 1000, {512, 3.0})`
/// for the 8-Gaussians ring of radius 2.
/// \throws std::invalid_argument for size_px out of range, a negative or non-finite extent, a
///         negative count, or a null array with a positive count.
/// \throws ImageWriteError as write_png.
void write_scatter_plot(const std::string& path, const float* real, std::int64_t n_real,
                        const float* generated, std::int64_t n_generated,
                        const ScatterOptions& options = {});

}  // namespace lipschitz::gan
