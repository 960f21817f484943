#include <gan/image_data.hpp>

#include <stb_image.h>
#include <stb_image_resize.h>
#include <zlib.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <memory>
#include <system_error>

namespace lipschitz::gan {
namespace {

namespace fs = std::filesystem;
using Bytes = std::vector<unsigned char>;

constexpr std::uint32_t kIdxImageMagic = 0x00000803;  // unsigned byte, 3 dimensions
constexpr std::uint32_t kIdxLabelMagic = 0x00000801;  // unsigned byte, 1 dimension
constexpr std::int64_t kCifarSide = 32;
constexpr std::int64_t kCifarPixels = 3 * kCifarSide * kCifarSide;  // 3072
constexpr std::int64_t kCifarRecord = 1 + kCifarPixels;             // 3073
constexpr int kCifarClasses = 10;
constexpr const char* kCifarSubdir = "cifar-10-batches-bin";
constexpr const char* kDatasetRoot = "/usr/share/datasets/";

[[noreturn]] void fail(const std::string& path, const std::string& what) {
  throw DataError(path + ": " + what);
}

void check_shape_arguments(std::int64_t size, std::int64_t channels) {
  if (size <= 0)
    throw std::invalid_argument("image size must be positive: size = " + std::to_string(size));
  if (channels != 1 && channels != 3)
    throw std::invalid_argument("channels must be 1 or 3: channels = " + std::to_string(channels));
}

// p / 127.5 - 1 for every byte value: 0 -> -1, 255 -> 1 exactly.
const std::array<float, 256>& byte_to_unit() {
  static const std::array<float, 256> table = [] {
    std::array<float, 256> t{};
    for (int p = 0; p < 256; ++p) t[std::size_t(p)] = float(p) / 127.5f - 1.0f;
    return t;
  }();
  return table;
}

std::string hex32(std::uint32_t v) {
  char text[16];
  std::snprintf(text, sizeof text, "0x%08x", v);
  return text;
}

std::uint32_t big_endian_u32(const unsigned char* p) {
  return std::uint32_t(p[0]) << 24 | std::uint32_t(p[1]) << 16 | std::uint32_t(p[2]) << 8 |
         std::uint32_t(p[3]);
}

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

Bytes read_plain(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw DataError("cannot open " + path + ": " + std::strerror(errno));
  in.seekg(0, std::ios::end);
  const std::streamoff size = in.tellg();
  in.seekg(0);
  if (size < 0) fail(path, "cannot determine the file size");
  Bytes data(static_cast<std::size_t>(size));
  if (size > 0 && !in.read(reinterpret_cast<char*>(data.data()), std::streamsize(size)))
    fail(path, "read error");
  return data;
}

// zlib's message for the last error on `file`, without the "PATH: " it puts in front.
std::string gzip_error(gzFile file, const std::string& path, int& code) {
  std::string message = gzerror(file, &code);
  if (message.compare(0, path.size() + 2, path + ": ") == 0) message.erase(0, path.size() + 2);
  return message;
}

// The decompressed content of a gzip file. A stream that stops early is an error here, not a
// short file: zlib reports it as Z_BUF_ERROR once the input is used up.
Bytes read_gzip(const std::string& path) {
  errno = 0;
  std::unique_ptr<gzFile_s, int (*)(gzFile)> file(gzopen(path.c_str(), "rb"), &gzclose);
  if (!file)
    throw DataError("cannot open " + path + ": " +
                    (errno ? std::strerror(errno) : "zlib could not allocate its state"));
  constexpr unsigned kChunk = 1u << 20;
  Bytes data;
  int code = Z_OK;
  for (;;) {
    const std::size_t old = data.size();
    data.resize(old + kChunk);
    const int got = gzread(file.get(), data.data() + old, kChunk);
    if (got < 0) fail(path, "corrupt gzip data: " + gzip_error(file.get(), path, code));
    data.resize(old + std::size_t(got));
    if (got == 0) break;
  }
  const std::string message = gzip_error(file.get(), path, code);
  if (code == Z_BUF_ERROR) fail(path, "truncated gzip data: " + message);
  if (code != Z_OK) fail(path, "corrupt gzip data: " + message);
  return data;
}

Bytes read_file(const std::string& path) {
  return ends_with(path, ".gz") ? read_gzip(path) : read_plain(path);
}

bool is_file(const fs::path& p) {
  std::error_code ec;
  return fs::is_regular_file(p, ec);
}

bool is_directory(const fs::path& p) {
  std::error_code ec;
  return fs::is_directory(p, ec);
}

// `dir/name` if it exists, else `dir/name.gz` if that does, else "".
std::string plain_or_gz(const std::string& dir, const std::string& name) {
  const fs::path plain = fs::path(dir) / name;
  if (is_file(plain)) return plain.string();
  const fs::path gz = fs::path(dir) / (name + ".gz");
  if (is_file(gz)) return gz.string();
  return {};
}

std::string idx_prefix(Split split) { return split == Split::train ? "train" : "t10k"; }

bool has_idx_images(const std::string& dir) {
  return !plain_or_gz(dir, "train-images-idx3-ubyte").empty() ||
         !plain_or_gz(dir, "t10k-images-idx3-ubyte").empty();
}

// The directory that holds the CIFAR-10 batches: `dir` itself or `dir/cifar-10-batches-bin`,
// whichever holds data_batch_1.bin or test_batch.bin; "" when neither does.
std::string cifar_batch_dir(const std::string& dir) {
  for (const fs::path& d : {fs::path(dir), fs::path(dir) / kCifarSubdir})
    if (is_file(d / "data_batch_1.bin") || is_file(d / "test_batch.bin")) return d.string();
  return {};
}

std::string lower_extension(const fs::path& p) {
  std::string ext = p.extension().string();
  for (char& ch : ext) ch = char(std::tolower(static_cast<unsigned char>(ch)));
  return ext;
}

// Decodes one image with `channels` channels, scales it so that the shorter side is `size`
// and appends the centre size x size square to `out` as C x H x W values in [-1, 1].
void append_square_image(const std::string& path, std::int64_t size, int channels,
                         std::vector<float>& out) {
  int w = 0, h = 0, stored_channels = 0;
  std::unique_ptr<unsigned char, void (*)(void*)> decoded(
      stbi_load(path.c_str(), &w, &h, &stored_channels, channels), &stbi_image_free);
  if (!decoded) fail(path, std::string("cannot decode image: ") + stbi_failure_reason());

  // The shorter side becomes `size`; the longer one keeps the aspect ratio, rounded.
  std::int64_t rw = size, rh = size;
  if (w <= h)
    rh = std::max<std::int64_t>(size, std::llround(double(h) * double(size) / double(w)));
  else
    rw = std::max<std::int64_t>(size, std::llround(double(w) * double(size) / double(h)));
  if (rw > std::numeric_limits<int>::max() / channels / rh)
    fail(path, "resizing " + std::to_string(w) + "x" + std::to_string(h) + " to " +
                   std::to_string(rw) + "x" + std::to_string(rh) + " pixels is too large");

  const unsigned char* source = decoded.get();
  Bytes resized;
  if (rw != w || rh != h) {
    resized.resize(std::size_t(rw * rh * channels));
    if (!stbir_resize_uint8(decoded.get(), w, h, 0, resized.data(), int(rw), int(rh), 0, channels))
      fail(path, "cannot resize image from " + std::to_string(w) + "x" + std::to_string(h) +
                     " to " + std::to_string(rw) + "x" + std::to_string(rh));
    source = resized.data();
  }

  const std::int64_t x0 = (rw - size) / 2, y0 = (rh - size) / 2;
  const auto& unit = byte_to_unit();
  for (int c = 0; c < channels; ++c)
    for (std::int64_t y = 0; y < size; ++y) {
      const unsigned char* row = source + ((y0 + y) * rw + x0) * channels + c;
      for (std::int64_t x = 0; x < size; ++x) out.push_back(unit[row[x * channels]]);
    }
}

}  // namespace

std::string to_string(Split split) { return split == Split::train ? "train" : "test"; }

Split split_from_string(const std::string& text) {
  if (text == "train") return Split::train;
  if (text == "test") return Split::test;
  throw std::invalid_argument("split must be 'train' or 'test', got '" + text + "'");
}

ImageSet load_idx(const std::string& dir, Split split) {
  const std::string image_name = idx_prefix(split) + "-images-idx3-ubyte";
  const std::string label_name = idx_prefix(split) + "-labels-idx1-ubyte";
  const std::string image_path = plain_or_gz(dir, image_name);
  if (image_path.empty()) fail(dir, "no " + image_name + " or " + image_name + ".gz");
  const std::string label_path = plain_or_gz(dir, label_name);
  if (label_path.empty()) fail(dir, "no " + label_name + " or " + label_name + ".gz");

  // Images: magic, count, rows, columns (big-endian u32), then count x rows x columns bytes.
  const Bytes images = read_file(image_path);
  if (images.size() < 16)
    fail(image_path, "truncated: expected a 16-byte IDX header, got " +
                         std::to_string(images.size()) + " bytes");
  const std::uint32_t image_magic = big_endian_u32(&images[0]);
  if (image_magic != kIdxImageMagic)
    fail(image_path, "not an IDX image file: magic number " + hex32(image_magic) + ", expected " +
                         hex32(kIdxImageMagic));
  const std::uint64_t count = big_endian_u32(&images[4]);
  const std::uint64_t rows = big_endian_u32(&images[8]);
  const std::uint64_t cols = big_endian_u32(&images[12]);
  if (count == 0) fail(image_path, "the header announces 0 images");
  if (rows == 0 || cols == 0)
    fail(image_path, "the header announces images of " + std::to_string(rows) + "x" +
                         std::to_string(cols) + " pixels, expected at least 1x1");
  const std::uint64_t per_image = rows * cols;  // < 2^64: both factors are < 2^32
  if (per_image > std::numeric_limits<std::uint64_t>::max() / count)
    fail(image_path, "the header announces more pixels than a file can hold");
  const std::uint64_t need = count * per_image;
  const std::uint64_t have = images.size() - 16;
  if (have < need)
    fail(image_path, "truncated: expected " + std::to_string(need) + " bytes of pixels, got " +
                         std::to_string(have));
  if (have > need)
    fail(image_path, "expected " + std::to_string(need) + " bytes of pixels, got " +
                         std::to_string(have) + " (data after the last image)");

  // Labels: magic, count (big-endian u32), then one byte per image.
  const Bytes labels = read_file(label_path);
  if (labels.size() < 8)
    fail(label_path, "truncated: expected an 8-byte IDX header, got " +
                         std::to_string(labels.size()) + " bytes");
  const std::uint32_t label_magic = big_endian_u32(&labels[0]);
  if (label_magic != kIdxLabelMagic)
    fail(label_path, "not an IDX label file: magic number " + hex32(label_magic) + ", expected " +
                         hex32(kIdxLabelMagic));
  const std::uint64_t label_count = big_endian_u32(&labels[4]);
  if (label_count != count)
    fail(label_path, "holds " + std::to_string(label_count) + " labels but " + image_path +
                         " holds " + std::to_string(count) + " images");
  if (labels.size() - 8 != count)
    fail(label_path, std::string(labels.size() - 8 < count ? "truncated: " : "") + "expected " +
                         std::to_string(count) + " bytes of labels, got " +
                         std::to_string(labels.size() - 8));

  ImageSet set;
  set.count = std::int64_t(count);
  set.channels = 1;
  set.height = std::int64_t(rows);
  set.width = std::int64_t(cols);
  set.source = image_path;
  const auto& unit = byte_to_unit();
  set.pixels.resize(std::size_t(need));
  std::transform(images.begin() + 16, images.end(), set.pixels.begin(),
                 [&unit](unsigned char p) { return unit[p]; });
  set.labels.assign(labels.begin() + 8, labels.end());
  return set;
}

ImageSet load_cifar10(const std::string& dir, Split split) {
  const std::vector<std::string> names =
      split == Split::train
          ? std::vector<std::string>{"data_batch_1.bin", "data_batch_2.bin", "data_batch_3.bin",
                                     "data_batch_4.bin", "data_batch_5.bin"}
          : std::vector<std::string>{"test_batch.bin"};
  std::string base = dir;
  if (!is_file(fs::path(dir) / names[0]) && is_file(fs::path(dir) / kCifarSubdir / names[0]))
    base = (fs::path(dir) / kCifarSubdir).string();
  if (!is_file(fs::path(base) / names[0]))
    fail(dir, "no " + names[0] + ", neither directly nor in " + kCifarSubdir);

  ImageSet set;
  set.channels = 3;
  set.height = set.width = kCifarSide;
  set.source = base;
  const auto& unit = byte_to_unit();
  for (const std::string& name : names) {
    const std::string path = (fs::path(base) / name).string();
    const Bytes data = read_file(path);
    if (data.empty() || data.size() % std::size_t(kCifarRecord) != 0)
      fail(path, "size " + std::to_string(data.size()) +
                     " bytes is not a positive multiple of the 3073-byte CIFAR-10 record (1 label "
                     "byte + 3x32x32 pixel bytes)");
    const std::size_t records = data.size() / std::size_t(kCifarRecord);
    set.pixels.reserve(set.pixels.size() + records * std::size_t(kCifarPixels));
    for (std::size_t r = 0; r < records; ++r) {
      const unsigned char* record = data.data() + r * std::size_t(kCifarRecord);
      if (record[0] >= kCifarClasses)
        fail(path, "record " + std::to_string(r) + " has label " + std::to_string(record[0]) +
                       ", expected 0..9");
      set.labels.push_back(record[0]);
      for (std::int64_t i = 1; i < kCifarRecord; ++i) set.pixels.push_back(unit[record[i]]);
    }
    set.count += std::int64_t(records);
  }
  return set;
}

ImageSet load_image_folder(const std::string& dir, std::int64_t size, std::int64_t channels) {
  check_shape_arguments(size, channels);
  std::error_code ec;
  if (!fs::exists(dir, ec)) fail(dir, "no such file or directory");
  if (!is_directory(dir)) fail(dir, "not a directory");

  std::vector<fs::path> files;
  fs::recursive_directory_iterator it(dir, fs::directory_options::skip_permission_denied, ec);
  for (; !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    const std::string ext = lower_extension(it->path());
    if ((ext == ".png" || ext == ".jpg" || ext == ".jpeg") && is_file(it->path()))
      files.push_back(it->path());
  }
  if (ec) fail(dir, "cannot list the directory: " + ec.message());
  if (files.empty()) fail(dir, "no .png, .jpg or .jpeg images found");
  std::sort(files.begin(), files.end());

  ImageSet set;
  set.count = std::int64_t(files.size());
  set.channels = channels;
  set.height = set.width = size;
  set.source = dir;
  set.pixels.reserve(files.size() * std::size_t(channels * size * size));
  for (const fs::path& file : files)
    append_square_image(file.string(), size, int(channels), set.pixels);
  return set;
}

ImageSet load_images(const std::string& name_or_path, Split split, std::int64_t size,
                     std::int64_t channels) {
  check_shape_arguments(size, channels);
  if (name_or_path == "fashion-mnist" || name_or_path == "mnist") {
    const std::string dir = kDatasetRoot + name_or_path;
    if (!is_directory(dir))
      throw DataError(
          name_or_path + ": " + dir + " does not exist (" +
          (name_or_path == "fashion-mnist"
               ? std::string("install Debian package dataset-fashion-mnist")
               : std::string("no Debian package ships it; pass the directory holding the MNIST "
                             "IDX files instead")) +
          ")");
    return load_idx(dir, split);
  }
  std::error_code ec;
  if (!fs::exists(name_or_path, ec)) fail(name_or_path, "no such file or directory");
  if (!is_directory(name_or_path))
    fail(name_or_path,
         "not a directory (expected 'fashion-mnist', 'mnist', an MNIST-format or CIFAR-10 "
         "directory, or a folder of images)");
  if (has_idx_images(name_or_path)) return load_idx(name_or_path, split);
  if (!cifar_batch_dir(name_or_path).empty()) return load_cifar10(name_or_path, split);
  return load_image_folder(name_or_path, size, channels);
}

}  // namespace lipschitz::gan
