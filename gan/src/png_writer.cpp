#include <gan/png_writer.hpp>

#include <fcntl.h>
#include <stb_image_write.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>
#include <vector>

namespace lipschitz::gan {
namespace {

using Rgb = std::array<std::uint8_t, 3>;

constexpr int kGridGap = 2;                 // pixels between tiles and around the border
constexpr std::uint8_t kGridGapGrey = 128;  // the gap's colour
constexpr int kScatterMinSize = 32;
constexpr int kScatterMaxSize = 8192;
constexpr int kPointRadius = 2;        // disc radius in pixels
constexpr double kMinGridSpacing = 8;  // pixels between grid lines, at least
constexpr double kAutoExtentMargin = 1.1;
constexpr Rgb kWhite{255, 255, 255};
constexpr Rgb kGridColour{228, 228, 228};
constexpr Rgb kZeroLineColour{196, 196, 196};
constexpr Rgb kBoxColour{64, 64, 64};
constexpr Rgb kRealColour{96, 125, 139};       // blue-grey
constexpr Rgb kGeneratedColour{255, 127, 14};  // orange

[[noreturn]] void fail_write(const std::string& path, int error) {
  throw ImageWriteError("cannot write " + path + ": " + std::strerror(error));
}

void append_bytes(void* context, void* data, int size) {
  auto* out = static_cast<std::vector<std::uint8_t>*>(context);
  const auto* bytes = static_cast<const std::uint8_t*>(data);
  out->insert(out->end(), bytes, bytes + size);
}

// A name beside `path` that no other writer in this or another process uses at the same time.
std::string temp_path_for(const std::string& path) {
  static std::atomic<unsigned long> counter{0};
  return path + ".tmp-" + std::to_string(::getpid()) + "-" + std::to_string(counter++);
}

// Writes all of `data` to the new file `tmp`; returns 0 or the errno of the failure.
int write_new_file(const std::string& tmp, const std::vector<std::uint8_t>& data) {
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
  if (fd < 0) return errno;
  std::size_t done = 0;
  while (done < data.size()) {
    const ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int error = errno;
      ::close(fd);
      return error;
    }
    done += std::size_t(n);
  }
  if (::close(fd) != 0) return errno;
  return 0;
}

// round((v + 1) * 127.5) after clamping v to [-1, 1]; NaN -> 0.
std::uint8_t unit_to_byte(float v) {
  if (!(v > -1.0f)) return 0;
  if (v >= 1.0f) return 255;
  return std::uint8_t(std::lround((double(v) + 1.0) * 127.5));
}

void check_points(const char* name, const float* xy, std::int64_t n) {
  if (n < 0)
    throw std::invalid_argument(std::string("the number of ") + name +
                                " points must be >= 0: n = " + std::to_string(n));
  if (n > 0 && xy == nullptr)
    throw std::invalid_argument(std::string("the ") + name +
                                " points are null but n = " + std::to_string(n));
}

// A square RGB canvas with the plot's coordinate map.
class Canvas {
 public:
  Canvas(int size, double extent) : size_(size), pixels_(std::size_t(size) * size * 3) {
    centre_ = (size - 1) / 2.0;
    half_ = centre_ - std::max(4, size / 32);
    extent_ = extent;
    for (std::size_t i = 0; i < pixels_.size(); i += 3) set(i, kWhite);
  }

  double column(double x) const { return centre_ + x / extent_ * half_; }
  double row(double y) const { return centre_ - y / extent_ * half_; }
  long box_low() const { return std::lround(centre_ - half_); }
  long box_high() const { return std::lround(centre_ + half_); }

  // Lines at the multiples of `step`, the lines through 0 last so that they stay on top.
  void grid() {
    double step = 1;
    while (step / extent_ * half_ < kMinGridSpacing) step *= 10;
    const long lines = long(std::floor(extent_ / step));
    for (long k = -lines; k <= lines; ++k)
      if (k != 0) lines_at(double(k) * step, kGridColour);
    lines_at(0, kZeroLineColour);
  }

  void box() {
    for (long t = box_low(); t <= box_high(); ++t) {
      put(box_low(), t, kBoxColour);
      put(box_high(), t, kBoxColour);
      put(t, box_low(), kBoxColour);
      put(t, box_high(), kBoxColour);
    }
  }

  void points(const float* xy, std::int64_t n, const Rgb& colour) {
    for (std::int64_t i = 0; i < n; ++i) {
      const double x = xy[2 * i], y = xy[2 * i + 1];
      if (!(std::abs(x) <= extent_) || !(std::abs(y) <= extent_)) continue;  // also NaN, Inf
      const long cx = std::lround(column(x)), cy = std::lround(row(y));
      for (long dy = -kPointRadius; dy <= kPointRadius; ++dy)
        for (long dx = -kPointRadius; dx <= kPointRadius; ++dx)
          if (dx * dx + dy * dy <= kPointRadius * kPointRadius) put(cy + dy, cx + dx, colour);
    }
  }

  const std::uint8_t* data() const { return pixels_.data(); }

 private:
  void set(std::size_t at, const Rgb& colour) {
    std::copy(colour.begin(), colour.end(), pixels_.begin() + std::ptrdiff_t(at));
  }
  bool inside(long r, long c) const { return r >= 0 && c >= 0 && r < size_ && c < size_; }
  // The vertical line x = v and the horizontal line y = v, across the box.
  void lines_at(double v, const Rgb& colour) {
    const long at_column = std::lround(column(v)), at_row = std::lround(row(v));
    for (long t = box_low(); t <= box_high(); ++t) {
      put(t, at_column, colour);
      put(at_row, t, colour);
    }
  }
  void put(long r, long c, const Rgb& colour) {
    if (inside(r, c)) set((std::size_t(r) * std::size_t(size_) + std::size_t(c)) * 3, colour);
  }

  int size_;
  std::vector<std::uint8_t> pixels_;
  double centre_ = 0, half_ = 0, extent_ = 1;
};

}  // namespace

void write_png(const std::string& path, int width, int height, int channels,
               const std::uint8_t* pixels) {
  if (width < 1 || height < 1)
    throw std::invalid_argument("PNG size must be at least 1x1: width = " + std::to_string(width) +
                                ", height = " + std::to_string(height));
  if (channels < 1 || channels > 4)
    throw std::invalid_argument("PNG channels must be 1, 2, 3 or 4: channels = " +
                                std::to_string(channels));
  if (std::int64_t(width) * height * channels > std::numeric_limits<int>::max())
    throw std::invalid_argument("PNG of " + std::to_string(width) + "x" + std::to_string(height) +
                                "x" + std::to_string(channels) + " bytes is too large (>= 2^31)");
  if (pixels == nullptr) throw std::invalid_argument("PNG pixels are null");

  std::vector<std::uint8_t> encoded;
  if (!stbi_write_png_to_func(&append_bytes, &encoded, width, height, channels, pixels,
                              width * channels))
    throw ImageWriteError("cannot write " + path + ": PNG encoding failed");
  const std::string tmp = temp_path_for(path);
  if (const int error = write_new_file(tmp, encoded)) {
    std::remove(tmp.c_str());
    fail_write(path, error);
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    const int error = errno;
    std::remove(tmp.c_str());
    throw ImageWriteError("cannot rename " + tmp + " to " + path + ": " + std::strerror(error));
  }
}

void write_image_grid(const std::string& path, const float* images, std::int64_t n, std::int64_t c,
                      std::int64_t h, std::int64_t w, int columns, int scale) {
  if (n < 1 || h < 1 || w < 1)
    throw std::invalid_argument("image grid needs n, h, w >= 1: n = " + std::to_string(n) +
                                ", h = " + std::to_string(h) + ", w = " + std::to_string(w));
  if (c != 1 && c != 3)
    throw std::invalid_argument("image grid channels must be 1 or 3: c = " + std::to_string(c));
  if (columns < 0)
    throw std::invalid_argument("image grid columns must be >= 0: columns = " +
                                std::to_string(columns));
  if (scale < 1)
    throw std::invalid_argument("image grid scale must be >= 1: scale = " + std::to_string(scale));
  if (images == nullptr) throw std::invalid_argument("image grid images are null");

  std::int64_t cols = columns > 0 ? std::min<std::int64_t>(columns, n)
                                  : std::int64_t(std::ceil(std::sqrt(double(n))));
  while (cols * cols < n && columns == 0) ++cols;  // guard against sqrt rounding down
  const std::int64_t rows = (n + cols - 1) / cols;
  const std::int64_t tile_w = w * scale, tile_h = h * scale;
  constexpr std::int64_t kMax = std::numeric_limits<int>::max();
  if (tile_w > kMax / cols || tile_h > kMax / rows ||
      (cols * (tile_w + kGridGap) + kGridGap) > kMax / c / (rows * (tile_h + kGridGap) + kGridGap))
    throw std::invalid_argument("image grid of " + std::to_string(n) + " images of " +
                                std::to_string(h) + "x" + std::to_string(w) + " at scale " +
                                std::to_string(scale) + " is too large (>= 2^31 bytes)");
  const std::int64_t out_w = cols * (tile_w + kGridGap) + kGridGap;
  const std::int64_t out_h = rows * (tile_h + kGridGap) + kGridGap;

  std::vector<std::uint8_t> out(std::size_t(out_w * out_h * c), kGridGapGrey);
  for (std::int64_t i = 0; i < n; ++i) {
    const std::int64_t x0 = kGridGap + (i % cols) * (tile_w + kGridGap);
    const std::int64_t y0 = kGridGap + (i / cols) * (tile_h + kGridGap);
    const float* image = images + i * c * h * w;
    for (std::int64_t y = 0; y < tile_h; ++y)
      for (std::int64_t x = 0; x < tile_w; ++x)
        for (std::int64_t ch = 0; ch < c; ++ch)
          out[std::size_t(((y0 + y) * out_w + x0 + x) * c + ch)] =
              unit_to_byte(image[(ch * h + y / scale) * w + x / scale]);
  }
  write_png(path, int(out_w), int(out_h), int(c), out.data());
}

void write_scatter_plot(const std::string& path, const float* real, std::int64_t n_real,
                        const float* generated, std::int64_t n_generated,
                        const ScatterOptions& options) {
  if (options.size_px < kScatterMinSize || options.size_px > kScatterMaxSize)
    throw std::invalid_argument("scatter plot size_px must be in [32, 8192]: size_px = " +
                                std::to_string(options.size_px));
  if (!(options.extent >= 0) || !std::isfinite(options.extent))
    throw std::invalid_argument("scatter plot extent must be finite and >= 0: extent = " +
                                std::to_string(options.extent));
  check_points("real", real, n_real);
  check_points("generated", generated, n_generated);

  double extent = options.extent;
  if (extent == 0) {
    double largest = 0;
    for (const auto& [xy, n] : {std::pair{real, n_real}, std::pair{generated, n_generated}})
      for (std::int64_t i = 0; i < 2 * n; ++i)
        if (std::isfinite(xy[i])) largest = std::max(largest, double(std::abs(xy[i])));
    extent = largest > 0 ? kAutoExtentMargin * largest : 1.0;
  }

  Canvas canvas(options.size_px, extent);
  canvas.grid();
  canvas.box();
  canvas.points(real, n_real, kRealColour);
  canvas.points(generated, n_generated, kGeneratedColour);
  write_png(path, options.size_px, options.size_px, 3, canvas.data());
}

}  // namespace lipschitz::gan
