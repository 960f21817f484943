// PNG output through librsvg (SVG → cairo surface) and cairo (raster → PNG).

#include <view/png_export.hpp>

#include <cairo.h>
#include <librsvg/rsvg.h>

#include <cstdint>
#include <memory>

namespace lipschitz::view {
namespace {

struct SurfaceDeleter {
  void operator()(cairo_surface_t* s) const { cairo_surface_destroy(s); }
};
struct ContextDeleter {
  void operator()(cairo_t* c) const { cairo_destroy(c); }
};
struct GObjectDeleter {
  void operator()(void* o) const { g_object_unref(o); }
};
using Surface = std::unique_ptr<cairo_surface_t, SurfaceDeleter>;
using Context = std::unique_ptr<cairo_t, ContextDeleter>;

cairo_status_t append_bytes(void* closure, const unsigned char* data, unsigned int length) {
  static_cast<std::string*>(closure)->append(reinterpret_cast<const char*>(data), length);
  return CAIRO_STATUS_SUCCESS;
}

std::string to_png(cairo_surface_t* surface) {
  std::string bytes;
  const cairo_status_t status = cairo_surface_write_to_png_stream(surface, append_bytes, &bytes);
  if (status != CAIRO_STATUS_SUCCESS)
    throw PngError(std::string("cannot encode PNG: ") + cairo_status_to_string(status));
  return bytes;
}

}  // namespace

std::string svg_to_png(const std::string& svg, double scale) {
  if (!(scale > 0 && scale <= 16))
    throw std::invalid_argument("PNG scale must be in (0, 16]: got " + std::to_string(scale));
  GError* error = nullptr;
  std::unique_ptr<RsvgHandle, GObjectDeleter> handle(
      rsvg_handle_new_from_data(reinterpret_cast<const guint8*>(svg.data()), svg.size(), &error));
  if (!handle) {
    const std::string message = error ? error->message : "unknown error";
    if (error) g_error_free(error);
    throw PngError("librsvg cannot read the SVG: " + message);
  }
  gdouble width = 0, height = 0;
  if (!rsvg_handle_get_intrinsic_size_in_pixels(handle.get(), &width, &height) || width <= 0 ||
      height <= 0)
    throw PngError("the SVG has no width and height in pixels");
  const int pw = static_cast<int>(width * scale + 0.5), ph = static_cast<int>(height * scale + 0.5);
  Surface surface(cairo_image_surface_create(CAIRO_FORMAT_ARGB32, pw, ph));
  if (cairo_surface_status(surface.get()) != CAIRO_STATUS_SUCCESS)
    throw PngError("cannot create a " + std::to_string(pw) + "x" + std::to_string(ph) + " image");
  Context cr(cairo_create(surface.get()));
  cairo_set_source_rgb(cr.get(), 1, 1, 1);
  cairo_paint(cr.get());
  const RsvgRectangle viewport{0, 0, static_cast<double>(pw), static_cast<double>(ph)};
  if (!rsvg_handle_render_document(handle.get(), cr.get(), &viewport, &error)) {
    const std::string message = error ? error->message : "unknown error";
    if (error) g_error_free(error);
    throw PngError("librsvg cannot render the SVG: " + message);
  }
  cr.reset();
  cairo_surface_flush(surface.get());
  return to_png(surface.get());
}

std::string encode_png_rgba(int width, int height, const std::vector<unsigned char>& rgba) {
  if (width < 1 || height < 1 ||
      rgba.size() != static_cast<std::size_t>(width) * static_cast<std::size_t>(height) * 4)
    throw std::invalid_argument(
        "encode_png_rgba needs width, height >= 1 and 4*width*height "
        "bytes: got " +
        std::to_string(width) + "x" + std::to_string(height) + " and " +
        std::to_string(rgba.size()));
  Surface surface(cairo_image_surface_create(CAIRO_FORMAT_ARGB32, width, height));
  if (cairo_surface_status(surface.get()) != CAIRO_STATUS_SUCCESS)
    throw PngError("cannot create a " + std::to_string(width) + "x" + std::to_string(height) +
                   " image");
  cairo_surface_flush(surface.get());
  unsigned char* data = cairo_image_surface_get_data(surface.get());
  const int stride = cairo_image_surface_get_stride(surface.get());
  for (int y = 0; y < height; ++y) {
    auto* row = reinterpret_cast<std::uint32_t*>(data + static_cast<std::ptrdiff_t>(y) * stride);
    for (int x = 0; x < width; ++x) {
      const unsigned char* p = &rgba[(static_cast<std::size_t>(y) * width + x) * 4];
      const std::uint32_t a = p[3];
      // cairo's ARGB32 is premultiplied, one native-endian 32-bit word per pixel.
      const auto pre = [a](unsigned char c) {
        return (static_cast<std::uint32_t>(c) * a + 127) / 255;
      };
      row[x] = (a << 24) | (pre(p[0]) << 16) | (pre(p[1]) << 8) | pre(p[2]);
    }
  }
  cairo_surface_mark_dirty(surface.get());
  return to_png(surface.get());
}

}  // namespace lipschitz::view
