#pragma once
/// \file image_data.hpp
/// Image data sets read into memory for GAN training: MNIST-format IDX files (MNIST,
/// Fashion-MNIST), the CIFAR-10 binary batches, and folders of PNG/JPEG images.

#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

namespace lipschitz::gan {

/// Images in memory, pixels scaled to [-1, 1], layout N×C×H×W row-major (float).
///
/// An 8-bit value p is stored as p / 127.5 − 1, so 0 ↦ −1 and 255 ↦ 1.
struct ImageSet {
  std::int64_t count = 0;            ///< N, the number of images
  std::int64_t channels = 0;         ///< C: 1 (grey) or 3 (RGB)
  std::int64_t height = 0;           ///< H in pixels
  std::int64_t width = 0;            ///< W in pixels
  std::vector<float> pixels;         ///< N·C·H·W values in [-1, 1]; image i starts at i·C·H·W
  std::vector<std::int32_t> labels;  ///< one per image; empty when the source has none
  std::string source;                ///< what was read (path), for messages and the run's config
};

/// A data file that cannot be read or is not what it claims to be. The message names the file
/// and what was wrong.
class DataError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// Which part of a data set with a fixed train/test split to read.
enum class Split {
  train,  ///< the training part (MNIST: 60000 images; CIFAR-10: data_batch_1…5, 50000 images)
  test,   ///< the held-out part (MNIST: t10k, 10000 images; CIFAR-10: test_batch, 10000 images)
};

/// "train" or "test".
std::string to_string(Split split);
/// Parses "train" or "test"; throws std::invalid_argument naming the value otherwise.
Split split_from_string(const std::string& text);

/// Reads an MNIST-format directory: `train-images-idx3-ubyte` + `train-labels-idx1-ubyte`
/// (Split::train) or `t10k-images-idx3-ubyte` + `t10k-labels-idx1-ubyte` (Split::test), each
/// plain or gzip-compressed with a `.gz` suffix (the plain file is preferred when both exist).
///
/// Checks the magic numbers (0x00000803 images, 0x00000801 labels), that each file holds exactly
/// the bytes its big-endian header announces and that there is one label per image. Returns
/// channels = 1 at the stored height × width (28×28 for MNIST).
///
/// Example: `ImageSet test = load_idx("/usr/share/datasets/fashion-mnist", Split::test);`
/// gives count = 10000, 1×28×28, labels 0…9.
/// \throws DataError when a file is missing, unreadable, truncated or not an IDX file.
ImageSet load_idx(const std::string& dir, Split split);

/// Reads the CIFAR-10 binary version: `data_batch_1.bin` … `data_batch_5.bin` (Split::train) or
/// `test_batch.bin` (Split::test), found directly in `dir` or in `dir/cifar-10-batches-bin`.
///
/// Each record is 1 label byte (0…9) followed by 3072 pixel bytes, 3×32×32 channel-major (R
/// plane, G plane, B plane), which is already the C×H×W order of ImageSet. Returns 3×32×32.
/// \throws DataError when a batch is missing, its size is not a multiple of 3073 bytes, or a
///         label is above 9.
ImageSet load_cifar10(const std::string& dir, Split split);

/// Reads every `.png`, `.jpg` and `.jpeg` file (extension case-insensitive) under `dir`,
/// recursively, in sorted path order so that the result is deterministic.
///
/// Each image is decoded with `channels` channels (stb_image converts grey ↔ RGB and drops
/// alpha), resized so that its shorter side is `size` pixels, then centre-cropped to
/// size × size. No labels.
///
/// Example: `load_image_folder("faces/", 64, 3)` gives N×3×64×64.
/// \param size     side of the square output in pixels, ≥ 1
/// \param channels 1 (grey) or 3 (RGB)
/// \throws std::invalid_argument for size ≤ 0 or channels other than 1 or 3.
/// \throws DataError when `dir` is not a directory, holds no such images, or an image cannot be
///         decoded (the message names the file and stb_image's reason).
ImageSet load_image_folder(const std::string& dir, std::int64_t size, std::int64_t channels);

/// Reads a data set by name or path:
/// - `"fashion-mnist"`: load_idx("/usr/share/datasets/fashion-mnist") (Debian package
///   dataset-fashion-mnist);
/// - `"mnist"`: load_idx("/usr/share/datasets/mnist") when that directory exists;
/// - a directory holding `train-images-idx3-ubyte[.gz]` or `t10k-images-idx3-ubyte[.gz]`:
///   load_idx;
/// - a directory holding `data_batch_1.bin` or `test_batch.bin`, directly or in
///   `cifar-10-batches-bin`: load_cifar10;
/// - any other directory: load_image_folder(path, size, channels). `split` is ignored there:
///   a folder has no fixed split, the caller holds some images out itself.
///
/// `size` and `channels` shape only image folders. IDX and CIFAR-10 sets come back at their
/// native size and channel count (1×28×28, 3×32×32) even when that differs from
/// size × size × channels: the caller decides whether to resize or convert.
///
/// Example: `load_images("fashion-mnist", Split::train, 28, 1)` gives 60000×1×28×28.
/// \param size     side of the square images for a folder, ≥ 1 (checked for every source)
/// \param channels 1 or 3 for a folder (checked for every source)
/// \throws std::invalid_argument for size ≤ 0 or channels other than 1 or 3.
/// \throws DataError for a path that does not exist or is not a directory, a named data set that
///         is not installed (with a hint), and whatever the chosen reader throws.
ImageSet load_images(const std::string& name_or_path, Split split, std::int64_t size,
                     std::int64_t channels);

}  // namespace lipschitz::gan
