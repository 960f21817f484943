#pragma once
/// \file png_export.hpp
/// PNG output for the view: SVG charts rendered by librsvg onto a cairo surface (for papers),
/// and small raster images (the critic surface) encoded by cairo.

#include <stdexcept>
#include <string>
#include <vector>

namespace lipschitz::view {

/// SVG that librsvg cannot parse or render, or a PNG that cairo cannot encode.
class PngError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// Renders an SVG document (with `width` and `height` on its root) at `scale` times its size on
/// a white background and returns the PNG file's bytes. `scale` in (0, 16].
/// Example: `svg_to_png(render_line_chart(chart), 2.0)` gives a 1280×720 PNG of a 640×360 chart.
std::string svg_to_png(const std::string& svg, double scale = 2.0);

/// Encodes an image as PNG bytes. `rgba` holds width·height pixels, row-major from the top row,
/// 4 bytes each (red, green, blue, straight alpha). width, height ≥ 1.
std::string encode_png_rgba(int width, int height, const std::vector<unsigned char>& rgba);

}  // namespace lipschitz::view
