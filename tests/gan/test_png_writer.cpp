// Tests png_writer.hpp: PNGs read back with stb_image, grid layout and colours, scatter-plot
// geometry and colours, atomic writes that leave no temporary file, and the errors.
#include <doctest/doctest.h>

#include <stb_image.h>
#include <unistd.h>
#include <gan/png_writer.hpp>
#include "../temp_dir.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <filesystem>
#include <limits>
#include <memory>
#include <string>
#include <vector>

using namespace lipschitz::gan;
namespace fs = std::filesystem;
using lipschitz::testing::TempDir;

namespace {

/// A PNG read back with stb_image, with `channels` channels per pixel.
struct Decoded {
  int width = 0, height = 0, channels = 0;
  std::vector<unsigned char> pixels;

  std::vector<int> at(int row, int column) const {
    const unsigned char* p = &pixels[std::size_t((row * width + column) * channels)];
    return std::vector<int>(p, p + channels);
  }
};

Decoded read_png(const std::string& path, int channels) {
  Decoded d;
  int stored = 0;
  std::unique_ptr<unsigned char, void (*)(void*)> data(
      stbi_load(path.c_str(), &d.width, &d.height, &stored, channels), &stbi_image_free);
  REQUIRE_MESSAGE(data != nullptr, path << ": " << stbi_failure_reason());
  CHECK(stored == channels);  // what the file itself holds
  d.channels = channels;
  d.pixels.assign(data.get(), data.get() + std::size_t(d.width * d.height * channels));
  return d;
}

std::vector<std::string> names_in(const fs::path& dir) {
  std::vector<std::string> names;
  for (const auto& entry : fs::directory_iterator(dir))
    names.push_back(entry.path().filename().string());
  std::sort(names.begin(), names.end());
  return names;
}

const std::vector<int> kGap{128};
const std::vector<int> kWhite{255, 255, 255};
const std::vector<int> kReal{96, 125, 139};
const std::vector<int> kGenerated{255, 127, 14};
const std::vector<int> kBox{64, 64, 64};
const std::vector<int> kGrid{228, 228, 228};
const std::vector<int> kZeroLine{196, 196, 196};

}  // namespace

TEST_CASE("write_png: exact bytes back, atomically, overwriting") {
  TempDir dir("png");
  const std::string path = dir / "rgb.png";
  const std::vector<std::uint8_t> rgb{255, 0, 0, 0, 255, 0, 0,   0,   255,
                                      1,   2, 3, 4, 5,   6, 250, 251, 252};  // 3 wide, 2 high
  write_png(path, 3, 2, 3, rgb.data());
  Decoded d = read_png(path, 3);
  CHECK(d.width == 3);
  CHECK(d.height == 2);
  CHECK(std::vector<std::uint8_t>(d.pixels.begin(), d.pixels.end()) == rgb);

  const std::vector<std::uint8_t> grey{0, 64, 128, 255};
  write_png(path, 2, 2, 1, grey.data());  // over the existing file
  d = read_png(path, 1);
  CHECK(d.width == 2);
  CHECK(std::vector<std::uint8_t>(d.pixels.begin(), d.pixels.end()) == grey);
  CHECK(names_in(dir.path()) == std::vector<std::string>{"rgb.png"});  // no temporary left
}

TEST_CASE("write_png: errors") {
  TempDir dir("png_errors");
  const std::uint8_t pixel[4] = {};
  CHECK_THROWS_WITH_AS(write_png("/nonexistent_lipschitz_dir/out.png", 1, 1, 1, pixel),
                       "cannot write /nonexistent_lipschitz_dir/out.png: No such file or directory",
                       ImageWriteError);
  // The target is a directory: the rename fails and the temporary file is removed.
  fs::create_directories(dir / "taken.png");
  const std::string rename_error = " to " + dir / "taken.png" + ": Is a directory";
  CHECK_THROWS_WITH_AS(write_png(dir / "taken.png", 1, 1, 1, pixel),
                       doctest::Contains(rename_error.c_str()), ImageWriteError);
  CHECK(names_in(dir.path()) == std::vector<std::string>{"taken.png"});
  CHECK_THROWS_WITH_AS(write_png(dir / "x.png", 0, 1, 1, pixel),
                       "PNG size must be at least 1x1: width = 0, height = 1",
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(write_png(dir / "x.png", 1, 1, 5, pixel),
                       "PNG channels must be 1, 2, 3 or 4: channels = 5", std::invalid_argument);
  CHECK_THROWS_WITH_AS(write_png(dir / "x.png", 1, 1, 1, nullptr), "PNG pixels are null",
                       std::invalid_argument);
}

TEST_CASE("write_image_grid: layout, gaps, scaling and value mapping") {
  TempDir dir("grid");
  const std::string path = dir / "grid.png";
  // Five 2x3 grey images, each one value except image 0, whose pixel (0, 1) is 1.
  const std::array<float, 5> fill{-1.0f, 1.0f, 0.5f, 2.0f, std::numeric_limits<float>::quiet_NaN()};
  std::vector<float> images;
  for (float v : fill) images.insert(images.end(), 6, v);
  images[1] = 1.0f;
  write_image_grid(path, images.data(), 5, 1, 2, 3, 0, 2);  // 3 columns (ceil sqrt 5), 2 rows
  const Decoded d = read_png(path, 1);
  CHECK(d.width == 3 * (3 * 2 + 2) + 2);   // 26
  CHECK(d.height == 2 * (2 * 2 + 2) + 2);  // 14
  CHECK(d.at(0, 0) == kGap);
  CHECK(d.at(2, 1) == kGap);                 // left border
  CHECK(d.at(2, 2) == std::vector<int>{0});  // image 0 at (0, 0), -1
  CHECK(d.at(3, 3) == std::vector<int>{0});
  CHECK(d.at(2, 4) == std::vector<int>{255});  // image 0 pixel (0, 1), scaled 2x: columns 4, 5
  CHECK(d.at(3, 5) == std::vector<int>{255});
  CHECK(d.at(2, 6) == std::vector<int>{0});
  CHECK(d.at(2, 8) == kGap);                    // gap between tiles 0 and 1
  CHECK(d.at(2, 10) == std::vector<int>{255});  // image 1: 1
  CHECK(d.at(5, 20) == std::vector<int>{191});  // image 2: 0.5 -> round(1.5 * 127.5)
  CHECK(d.at(8, 2) == std::vector<int>{255});   // image 3 starts row 2: 2 clamped to 1
  CHECK(d.at(9, 12) == std::vector<int>{0});    // image 4: NaN -> -1
  CHECK(d.at(9, 20) == kGap);                   // the sixth tile is empty
  CHECK(d.at(13, 25) == kGap);
}

TEST_CASE("write_image_grid: RGB, columns clamped to n, errors") {
  TempDir dir("grid_rgb");
  const std::string path = dir / "rgb.png";
  const std::vector<float> one_pixel{1.0f, -1.0f, 0.0f};  // planes R, G, B of a 1x1 image
  write_image_grid(path, one_pixel.data(), 1, 3, 1, 1, 8, 3);
  const Decoded d = read_png(path, 3);
  CHECK(d.width == 7);
  CHECK(d.height == 7);
  CHECK(d.at(3, 3) == std::vector<int>{255, 0, 128});
  CHECK(d.at(2, 2) == std::vector<int>{255, 0, 128});
  CHECK(d.at(1, 1) == std::vector<int>{128, 128, 128});

  const std::vector<float> two(2 * 4, 0.0f);
  write_image_grid(path, two.data(), 2, 1, 2, 2, 8);
  const Decoded row = read_png(path, 1);
  CHECK(row.width == 2 * (2 + 2) + 2);
  CHECK(row.height == 2 + 2 + 2);

  CHECK_THROWS_WITH_AS(write_image_grid(path, two.data(), 2, 2, 2, 1),
                       "image grid channels must be 1 or 3: c = 2", std::invalid_argument);
  CHECK_THROWS_WITH_AS(write_image_grid(path, two.data(), 0, 1, 2, 2),
                       "image grid needs n, h, w >= 1: n = 0, h = 2, w = 2", std::invalid_argument);
  CHECK_THROWS_WITH_AS(write_image_grid(path, two.data(), 2, 1, 2, 2, 0, 0),
                       "image grid scale must be >= 1: scale = 0", std::invalid_argument);
  CHECK_THROWS_WITH_AS(write_image_grid(path, two.data(), 2, 1, 2, 2, -1),
                       "image grid columns must be >= 0: columns = -1", std::invalid_argument);
  CHECK_THROWS_WITH_AS(
      write_image_grid(dir / "no/such/dir.png", two.data(), 2, 1, 2, 2),
      ("cannot write " + dir / "no/such/dir.png" + ": No such file or directory").c_str(),
      ImageWriteError);
}

TEST_CASE("write_scatter_plot: geometry and colours at a fixed extent") {
  TempDir dir("scatter");
  const std::string path = dir / "scatter.png";
  // size 101: centre c = 50, margin 4, half-side r = 46; extent 2 -> 23 pixels per unit.
  const std::vector<float> real{0.0f, 0.0f, 1.0f, -1.0f, 5.0f, 0.0f, NAN, 1.0f};
  const std::vector<float> generated{1.0f, -1.0f};
  write_scatter_plot(path, real.data(), 4, generated.data(), 1, {101, 2.0});
  const Decoded d = read_png(path, 3);
  CHECK(d.width == 101);
  CHECK(d.height == 101);
  CHECK(d.at(50, 50) == kReal);  // (0, 0)
  CHECK(d.at(50, 52) == kReal);  // disc of radius 2
  CHECK(d.at(51, 51) == kReal);
  CHECK(d.at(52, 52) == kWhite);      // outside the disc, on no line
  CHECK(d.at(73, 73) == kGenerated);  // (1, -1), drawn over the real point there
  CHECK(d.at(71, 73) == kGenerated);
  CHECK(d.at(4, 30) == kBox);         // top edge of the box
  CHECK(d.at(96, 96) == kBox);        // bottom-right corner
  CHECK(d.at(10, 27) == kGrid);       // x = -1
  CHECK(d.at(96 - 23, 10) == kGrid);  // y = -1
  CHECK(d.at(10, 50) == kZeroLine);   // x = 0
  CHECK(d.at(0, 0) == kWhite);        // outside the box
  CHECK(d.at(20, 20) == kWhite);
  // (5, 0) is outside the extent: nothing drawn on the right edge of the box at y = 0.
  CHECK(d.at(50, 96) == kBox);
  CHECK(d.at(50, 98) == kWhite);
}

TEST_CASE("write_scatter_plot: extent from the data, no points, errors") {
  TempDir dir("scatter_auto");
  const std::string path = dir / "auto.png";
  const std::vector<float> real{2.0f, 0.0f, -0.5f, 0.25f};
  write_scatter_plot(path, real.data(), 2, nullptr, 0, {101, 0.0});
  Decoded d = read_png(path, 3);
  // extent = 1.1 * 2: x = 2 lands at 50 + 2 / 2.2 * 46 = 91.8 -> column 92.
  CHECK(d.at(50, 92) == kReal);
  CHECK(d.at(50, 94) == kReal);

  write_scatter_plot(path, nullptr, 0, nullptr, 0, {32, 0.0});  // extent 1: box and lines only
  d = read_png(path, 3);
  CHECK(d.width == 32);
  CHECK(names_in(dir.path()) == std::vector<std::string>{"auto.png"});

  CHECK_THROWS_WITH_AS(write_scatter_plot(path, real.data(), 2, nullptr, 0, {16, 0.0}),
                       "scatter plot size_px must be in [32, 8192]: size_px = 16",
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(write_scatter_plot(path, real.data(), 2, nullptr, 0, {64, -1.0}),
                       "scatter plot extent must be finite and >= 0: extent = -1.000000",
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(write_scatter_plot(path, nullptr, 3, nullptr, 0),
                       "the real points are null but n = 3", std::invalid_argument);
  CHECK_THROWS_WITH_AS(write_scatter_plot(path, real.data(), 2, real.data(), -1),
                       "the number of generated points must be >= 0: n = -1",
                       std::invalid_argument);
}
