// Tests image_data.hpp: IDX (plain and gzip), CIFAR-10 and image-folder readers on fixtures built
// here, the dispatcher, every error named, and the real Fashion-MNIST test split when installed.
#include <doctest/doctest.h>

#include <stb_image_write.h>
#include <unistd.h>
#include <zlib.h>
#include <gan/image_data.hpp>
#include "../temp_dir.hpp"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

using namespace lipschitz::gan;
namespace fs = std::filesystem;
using lipschitz::testing::TempDir;

namespace {

void append_be32(std::string& out, std::uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8) out.push_back(char((v >> shift) & 0xff));
}

std::string idx_images(std::uint32_t count, std::uint32_t rows, std::uint32_t cols,
                       const std::vector<unsigned char>& pixels, std::uint32_t magic = 0x803) {
  std::string out;
  append_be32(out, magic);
  append_be32(out, count);
  append_be32(out, rows);
  append_be32(out, cols);
  out.append(pixels.begin(), pixels.end());
  return out;
}

std::string idx_labels(const std::vector<unsigned char>& labels, std::uint32_t magic = 0x801) {
  std::string out;
  append_be32(out, magic);
  append_be32(out, std::uint32_t(labels.size()));
  out.append(labels.begin(), labels.end());
  return out;
}

void write_plain(const std::string& path, const std::string& bytes) {
  fs::create_directories(fs::path(path).parent_path());
  std::ofstream out(path, std::ios::binary);
  out.write(bytes.data(), std::streamsize(bytes.size()));
  REQUIRE(out.good());
}

void write_gz(const std::string& path, const std::string& bytes) {
  fs::create_directories(fs::path(path).parent_path());
  gzFile f = gzopen(path.c_str(), "wb");
  REQUIRE(f != nullptr);
  REQUIRE(gzwrite(f, bytes.data(), unsigned(bytes.size())) == int(bytes.size()));
  REQUIRE(gzclose(f) == Z_OK);
}

std::string read_plain(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

float unit(int byte) { return float(byte) / 127.5f - 1.0f; }

// Three 2x3 images whose bytes are 0, 255, then 10, 20, 30, ...; labels 7, 0, 9.
const std::vector<unsigned char> kIdxPixels = [] {
  std::vector<unsigned char> p(18);
  for (std::size_t i = 0; i < p.size(); ++i) p[i] = static_cast<unsigned char>(10 * i);
  p[0] = 0;
  p[1] = 255;
  return p;
}();
const std::vector<unsigned char> kIdxLabels{7, 0, 9};

void check_idx_fixture(const ImageSet& set) {
  CHECK(set.count == 3);
  CHECK(set.channels == 1);
  CHECK(set.height == 2);
  CHECK(set.width == 3);
  REQUIRE(set.pixels.size() == 18);
  CHECK(set.pixels[0] == -1.0f);
  CHECK(set.pixels[1] == 1.0f);
  for (std::size_t i = 2; i < 18; ++i) CHECK(set.pixels[i] == unit(kIdxPixels[i]));
  CHECK(set.labels == std::vector<std::int32_t>{7, 0, 9});
}

// A CIFAR-10 record: the label, then 3072 bytes (R, G, B planes of 32x32) = (seed + i) mod 256.
std::string cifar_record(unsigned char label, int seed) {
  std::string r(1, char(label));
  for (int i = 0; i < 3072; ++i) r.push_back(char((seed + i) % 256));
  return r;
}

}  // namespace

TEST_CASE("Split to_string and split_from_string") {
  CHECK(to_string(Split::train) == "train");
  CHECK(to_string(Split::test) == "test");
  CHECK(split_from_string("train") == Split::train);
  CHECK(split_from_string("test") == Split::test);
  CHECK_THROWS_WITH_AS(split_from_string("val"), "split must be 'train' or 'test', got 'val'",
                       std::invalid_argument);
}

TEST_CASE("IDX: plain files, pixels scaled to [-1, 1], labels") {
  TempDir dir("idx_plain");
  write_plain(dir / "train-images-idx3-ubyte", idx_images(3, 2, 3, kIdxPixels));
  write_plain(dir / "train-labels-idx1-ubyte", idx_labels(kIdxLabels));
  const ImageSet set = load_idx(dir.str(), Split::train);
  check_idx_fixture(set);
  CHECK(set.source == dir / "train-images-idx3-ubyte");
  CHECK_THROWS_WITH_AS(
      load_idx(dir.str(), Split::test),
      (dir.str() + ": no t10k-images-idx3-ubyte or t10k-images-idx3-ubyte.gz").c_str(), DataError);
}

TEST_CASE("IDX: gzip files, the test split, plain preferred over .gz") {
  TempDir dir("idx_gz");
  write_gz(dir / "t10k-images-idx3-ubyte.gz", idx_images(3, 2, 3, kIdxPixels));
  write_gz(dir / "t10k-labels-idx1-ubyte.gz", idx_labels(kIdxLabels));
  ImageSet set = load_idx(dir.str(), Split::test);
  check_idx_fixture(set);
  CHECK(set.source == dir / "t10k-images-idx3-ubyte.gz");

  // A plain file beside the .gz wins; here it holds one 1x1 image.
  write_plain(dir / "t10k-images-idx3-ubyte", idx_images(1, 1, 1, {255}));
  write_plain(dir / "t10k-labels-idx1-ubyte", idx_labels({4}));
  set = load_idx(dir.str(), Split::test);
  CHECK(set.count == 1);
  CHECK(set.pixels == std::vector<float>{1.0f});
  CHECK(set.labels == std::vector<std::int32_t>{4});
  CHECK_THROWS_WITH_AS(
      load_idx(dir.str(), Split::train),
      (dir.str() + ": no train-images-idx3-ubyte or train-images-idx3-ubyte.gz").c_str(),
      DataError);
}

TEST_CASE("IDX: errors name the file and what was wrong") {
  TempDir dir("idx_errors");
  const std::string images = dir / "train-images-idx3-ubyte";
  const std::string labels = dir / "train-labels-idx1-ubyte";
  write_plain(labels, idx_labels(kIdxLabels));

  SUBCASE("no label file") {
    fs::remove(labels);
    write_plain(images, idx_images(3, 2, 3, kIdxPixels));
    CHECK_THROWS_WITH_AS(
        load_idx(dir.str(), Split::train),
        (dir.str() + ": no train-labels-idx1-ubyte or train-labels-idx1-ubyte.gz").c_str(),
        DataError);
  }
  SUBCASE("truncated pixels") {
    write_plain(images, idx_images(3, 2, 3, {1, 2, 3, 4, 5, 6, 7, 8, 9, 10}));
    CHECK_THROWS_WITH_AS(load_idx(dir.str(), Split::train),
                         (images + ": truncated: expected 18 bytes of pixels, got 10").c_str(),
                         DataError);
  }
  SUBCASE("data after the last image") {
    std::vector<unsigned char> more = kIdxPixels;
    more.push_back(1);
    write_plain(images, idx_images(3, 2, 3, more));
    CHECK_THROWS_WITH_AS(
        load_idx(dir.str(), Split::train),
        (images + ": expected 18 bytes of pixels, got 19 (data after the last image)").c_str(),
        DataError);
  }
  SUBCASE("truncated header") {
    write_plain(images, idx_images(3, 2, 3, {}).substr(0, 10));
    CHECK_THROWS_WITH_AS(
        load_idx(dir.str(), Split::train),
        (images + ": truncated: expected a 16-byte IDX header, got 10 bytes").c_str(), DataError);
  }
  SUBCASE("wrong magic: a label file where the images should be") {
    write_plain(images, idx_images(3, 2, 3, kIdxPixels, 0x801));
    CHECK_THROWS_WITH_AS(
        load_idx(dir.str(), Split::train),
        (images + ": not an IDX image file: magic number 0x00000801, expected 0x00000803").c_str(),
        DataError);
  }
  SUBCASE("wrong magic in the labels") {
    write_plain(images, idx_images(3, 2, 3, kIdxPixels));
    write_plain(labels, idx_labels(kIdxLabels, 0x0803));
    CHECK_THROWS_WITH_AS(
        load_idx(dir.str(), Split::train),
        (labels + ": not an IDX label file: magic number 0x00000803, expected 0x00000801").c_str(),
        DataError);
  }
  SUBCASE("zero images, zero-sized images") {
    write_plain(images, idx_images(0, 2, 3, {}));
    CHECK_THROWS_WITH_AS(load_idx(dir.str(), Split::train),
                         (images + ": the header announces 0 images").c_str(), DataError);
    write_plain(images, idx_images(3, 0, 3, {}));
    CHECK_THROWS_WITH_AS(
        load_idx(dir.str(), Split::train),
        (images + ": the header announces images of 0x3 pixels, expected at least 1x1").c_str(),
        DataError);
  }
  SUBCASE("label count differs from the image count") {
    write_plain(images, idx_images(3, 2, 3, kIdxPixels));
    write_plain(labels, idx_labels({1, 2}));
    CHECK_THROWS_WITH_AS(load_idx(dir.str(), Split::train),
                         (labels + ": holds 2 labels but " + images + " holds 3 images").c_str(),
                         DataError);
  }
  SUBCASE("truncated labels") {
    write_plain(images, idx_images(3, 2, 3, kIdxPixels));
    write_plain(labels, idx_labels(kIdxLabels).substr(0, 10));
    CHECK_THROWS_WITH_AS(load_idx(dir.str(), Split::train),
                         (labels + ": truncated: expected 3 bytes of labels, got 2").c_str(),
                         DataError);
  }
  SUBCASE("a gzip stream cut short") {
    fs::remove(labels);
    write_gz(dir / "train-labels-idx1-ubyte.gz", idx_labels(kIdxLabels));
    write_gz(images + ".gz", idx_images(3, 2, 3, kIdxPixels));
    const std::string whole = read_plain(images + ".gz");
    write_plain(images + ".gz", whole.substr(0, whole.size() / 2));
    CHECK_THROWS_WITH_AS(load_idx(dir.str(), Split::train),
                         (images + ".gz: truncated gzip data: unexpected end of file").c_str(),
                         DataError);
  }
}

TEST_CASE("CIFAR-10: records, channel planes, labels, both layouts") {
  TempDir dir("cifar");
  // Test split in the archive's subdirectory: 2 records.
  write_plain(dir / "cifar-10-batches-bin/test_batch.bin", cifar_record(3, 0) + cifar_record(9, 5));
  ImageSet set = load_cifar10(dir.str(), Split::test);
  CHECK(set.count == 2);
  CHECK(set.channels == 3);
  CHECK(set.height == 32);
  CHECK(set.width == 32);
  CHECK(set.labels == std::vector<std::int32_t>{3, 9});
  CHECK(set.source == dir / "cifar-10-batches-bin");
  REQUIRE(set.pixels.size() == 2 * 3072);
  CHECK(set.pixels[0] == -1.0f);                                       // image 0, R(0, 0) = 0
  CHECK(set.pixels[255] == 1.0f);                                      // image 0, R(7, 31) = 255
  CHECK(set.pixels[1024] == unit(1024 % 256));                         // image 0, G(0, 0)
  CHECK(set.pixels[3072 + 2048 + 33] == unit((5 + 2048 + 33) % 256));  // image 1, B(1, 1)

  // Train split directly in the directory: 5 batches of 1 record each.
  for (int b = 1; b <= 5; ++b)
    write_plain(dir / ("data_batch_" + std::to_string(b) + ".bin"),
                cifar_record(static_cast<unsigned char>(b), b));
  set = load_cifar10(dir.str(), Split::train);
  CHECK(set.count == 5);
  CHECK(set.labels == std::vector<std::int32_t>{1, 2, 3, 4, 5});
  CHECK(set.source == dir.str());
  CHECK(set.pixels[4 * 3072] == unit(5));
}

TEST_CASE("CIFAR-10: errors name the file and what was wrong") {
  TempDir dir("cifar_errors");
  CHECK_THROWS_WITH_AS(
      load_cifar10(dir.str(), Split::test),
      (dir.str() + ": no test_batch.bin, neither directly nor in cifar-10-batches-bin").c_str(),
      DataError);
  const std::string batch = dir / "test_batch.bin";
  write_plain(batch, cifar_record(1, 0) + cifar_record(2, 0).substr(0, 100));
  CHECK_THROWS_WITH_AS(
      load_cifar10(dir.str(), Split::test),
      (batch + ": size 3173 bytes is not a positive multiple of the 3073-byte CIFAR-10 "
               "record (1 label byte + 3x32x32 pixel bytes)")
          .c_str(),
      DataError);
  write_plain(batch, cifar_record(1, 0) + cifar_record(10, 0));
  CHECK_THROWS_WITH_AS(load_cifar10(dir.str(), Split::test),
                       (batch + ": record 1 has label 10, expected 0..9").c_str(), DataError);
  write_plain(dir / "data_batch_1.bin", cifar_record(1, 0));
  CHECK_THROWS_WITH_AS(
      load_cifar10(dir.str(), Split::train),
      ("cannot open " + (dir / "data_batch_2.bin") + ": No such file or directory").c_str(),
      DataError);
}

TEST_CASE("image folder: decoding, sorted order, resize and centre crop") {
  TempDir dir("folder");
  // 1_exact.png: 4x4 RGB, pixel (y, x) = (16x, 16y, 200): kept as is at size 4.
  std::vector<unsigned char> exact(4 * 4 * 3);
  for (int y = 0; y < 4; ++y)
    for (int x = 0; x < 4; ++x) {
      unsigned char* p = &exact[std::size_t((y * 4 + x) * 3)];
      p[0] = static_cast<unsigned char>(16 * x);
      p[1] = static_cast<unsigned char>(16 * y);
      p[2] = 200;
    }
  REQUIRE(stbi_write_png((dir / "1_exact.png").c_str(), 4, 4, 3, exact.data(), 4 * 3));
  // 2_stripes.PNG: 8 wide, 4 high: 2 red columns, 4 green, 2 blue; the centre crop is all green.
  std::vector<unsigned char> stripes(8 * 4 * 3, 0);
  for (int y = 0; y < 4; ++y)
    for (int x = 0; x < 8; ++x)
      stripes[std::size_t((y * 8 + x) * 3 + (x < 2 ? 0 : x < 6 ? 1 : 2))] = 255;
  REQUIRE(stbi_write_png((dir / "2_stripes.PNG").c_str(), 8, 4, 3, stripes.data(), 8 * 3));
  // 3_nested/uniform.jpeg: 8 wide, 16 high, one colour: scaled to 4x8, cropped to 4x4.
  fs::create_directories(dir / "3_nested");
  const std::vector<unsigned char> uniform = [] {
    std::vector<unsigned char> u;
    for (int i = 0; i < 8 * 16; ++i) u.insert(u.end(), {40, 120, 220});
    return u;
  }();
  REQUIRE(stbi_write_jpg((dir / "3_nested/uniform.jpeg").c_str(), 8, 16, 3, uniform.data(), 100));
  write_plain(dir / "notes.txt", "not an image");

  const ImageSet set = load_image_folder(dir.str(), 4, 3);
  CHECK(set.count == 3);
  CHECK(set.channels == 3);
  CHECK(set.height == 4);
  CHECK(set.width == 4);
  CHECK(set.labels.empty());
  CHECK(set.source == dir.str());
  REQUIRE(set.pixels.size() == 3 * 3 * 16);
  const auto at = [&set](int image, int c, int y, int x) {
    return set.pixels[std::size_t(((image * 3 + c) * 4 + y) * 4 + x)];
  };
  for (int y = 0; y < 4; ++y)
    for (int x = 0; x < 4; ++x) {
      CHECK(at(0, 0, y, x) == unit(16 * x));
      CHECK(at(0, 1, y, x) == unit(16 * y));
      CHECK(at(0, 2, y, x) == unit(200));
      CHECK(at(1, 0, y, x) == -1.0f);
      CHECK(at(1, 1, y, x) == 1.0f);
      CHECK(at(1, 2, y, x) == -1.0f);
      // JPEG at quality 100 and a resampling filter keep a flat colour within a few levels.
      const float tolerance = 3.0f / 127.5f;
      CHECK(std::abs(at(2, 0, y, x) - unit(40)) <= tolerance);
      CHECK(std::abs(at(2, 1, y, x) - unit(120)) <= tolerance);
      CHECK(std::abs(at(2, 2, y, x) - unit(220)) <= tolerance);
    }
}

TEST_CASE("image folder: grey conversion and upscaling") {
  TempDir dir("folder_grey");
  const std::vector<unsigned char> grey(2 * 3 * 3, 100);  // RGB (100, 100, 100), 2 wide, 3 high
  REQUIRE(stbi_write_png((dir / "g.png").c_str(), 2, 3, 3, grey.data(), 2 * 3));
  const ImageSet set = load_image_folder(dir.str(), 6, 1);  // 2x3 -> 6x9 -> crop 6x6
  CHECK(set.count == 1);
  CHECK(set.channels == 1);
  CHECK(set.height == 6);
  CHECK(set.width == 6);
  REQUIRE(set.pixels.size() == 36);
  for (float v : set.pixels) CHECK(std::abs(v - unit(100)) <= 1.0f / 127.5f);
}

TEST_CASE("image folder: errors") {
  TempDir dir("folder_errors");
  CHECK_THROWS_WITH_AS(load_image_folder(dir.str(), 0, 3), "image size must be positive: size = 0",
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(load_image_folder(dir.str(), 8, 2), "channels must be 1 or 3: channels = 2",
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(load_image_folder(dir.str(), 8, 3),
                       (dir.str() + ": no .png, .jpg or .jpeg images found").c_str(), DataError);
  CHECK_THROWS_WITH_AS(load_image_folder(dir / "missing", 8, 3),
                       (dir / "missing" + ": no such file or directory").c_str(), DataError);
  write_plain(dir / "bad.png", "this is not a PNG file");
  CHECK_THROWS_WITH_AS(load_image_folder(dir.str(), 8, 3),
                       (dir / "bad.png" + ": cannot decode image: unknown image type").c_str(),
                       DataError);
  CHECK_THROWS_WITH_AS(load_image_folder(dir / "bad.png", 8, 3),
                       (dir / "bad.png" + ": not a directory").c_str(), DataError);
}

TEST_CASE("load_images picks the reader from the directory's content") {
  TempDir dir("dispatch");
  write_gz(dir / "idx/t10k-images-idx3-ubyte.gz", idx_images(3, 2, 3, kIdxPixels));
  write_gz(dir / "idx/t10k-labels-idx1-ubyte.gz", idx_labels(kIdxLabels));
  write_plain(dir / "cifar/cifar-10-batches-bin/test_batch.bin", cifar_record(4, 0));
  fs::create_directories(dir / "folder");
  const std::vector<unsigned char> one(3 * 3, 255);
  REQUIRE(stbi_write_png((dir / "folder/white.png").c_str(), 3, 3, 1, one.data(), 3));

  // IDX and CIFAR come back at their native size whatever size and channels say.
  check_idx_fixture(load_images(dir / "idx", Split::test, 64, 3));
  const ImageSet cifar = load_images(dir / "cifar", Split::test, 64, 1);
  CHECK(cifar.count == 1);
  CHECK(cifar.channels == 3);
  CHECK(cifar.height == 32);
  CHECK(cifar.labels == std::vector<std::int32_t>{4});
  const ImageSet folder = load_images(dir / "folder", Split::test, 2, 3);
  CHECK(folder.count == 1);
  CHECK(folder.channels == 3);
  CHECK(folder.height == 2);
  CHECK(folder.pixels == std::vector<float>(12, 1.0f));

  CHECK_THROWS_WITH_AS(load_images(dir / "nothing", Split::train, 28, 1),
                       (dir / "nothing" + ": no such file or directory").c_str(), DataError);
  CHECK_THROWS_WITH_AS(load_images(dir / "folder/white.png", Split::train, 28, 1),
                       (dir / "folder/white.png" +
                        ": not a directory (expected 'fashion-mnist', 'mnist', an MNIST-format or "
                        "CIFAR-10 directory, or a folder of images)")
                           .c_str(),
                       DataError);
  CHECK_THROWS_WITH_AS(load_images(dir / "idx", Split::test, -1, 1),
                       "image size must be positive: size = -1", std::invalid_argument);
  CHECK_THROWS_WITH_AS(load_images("fashion-mnist", Split::test, 28, 4),
                       "channels must be 1 or 3: channels = 4", std::invalid_argument);
  if (!fs::exists("/usr/share/datasets/mnist"))
    CHECK_THROWS_WITH_AS(load_images("mnist", Split::test, 28, 1),
                         "mnist: /usr/share/datasets/mnist does not exist (no Debian package ships "
                         "it; pass the directory holding the MNIST IDX files instead)",
                         DataError);
}

TEST_CASE("the real Fashion-MNIST test split") {
  const std::string dir = "/usr/share/datasets/fashion-mnist";
  if (!fs::exists(dir)) {
    MESSAGE("skipped: " << dir << " is absent (Debian package dataset-fashion-mnist)");
    CHECK_THROWS_WITH_AS(load_images("fashion-mnist", Split::test, 28, 1),
                         "fashion-mnist: /usr/share/datasets/fashion-mnist does not exist "
                         "(install Debian package dataset-fashion-mnist)",
                         DataError);
    return;
  }
  const ImageSet set = load_images("fashion-mnist", Split::test, 28, 1);
  CHECK(set.count == 10000);
  CHECK(set.channels == 1);
  CHECK(set.height == 28);
  CHECK(set.width == 28);
  REQUIRE(set.pixels.size() == 10000u * 28 * 28);
  REQUIRE(set.labels.size() == 10000u);
  const auto [lo, hi] = std::minmax_element(set.pixels.begin(), set.pixels.end());
  CHECK(*lo == -1.0f);
  CHECK(*hi == 1.0f);
  std::vector<int> per_class(10, 0);
  int out_of_range = 0;
  for (std::int32_t label : set.labels)
    if (label >= 0 && label <= 9)
      ++per_class[std::size_t(label)];
    else
      ++out_of_range;
  CHECK(out_of_range == 0);
  CHECK(per_class == std::vector<int>(10, 1000));  // the test split is balanced
}
