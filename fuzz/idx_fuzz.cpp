// load_idx on any pair of files (a downloaded MNIST-format set): images and labels that agree
// with the header, or DataError naming the file. Control byte: bit 0 the split, bits 1 and 2
// gzip file names for images and labels (the bytes are then read as gzip).

#include "fuzz_input.hpp"

#include <gan/image_data.hpp>

using namespace lipschitz::fuzz;
using lipschitz::gan::ImageSet;
using lipschitz::gan::Split;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  Input in(data, size);
  const std::uint8_t control = in.byte();
  const Split split = (control & 1) ? Split::test : Split::train;
  const std::string prefix = split == Split::test ? "t10k" : "train";
  const std::string dir = scratch().reset();
  scratch().write(prefix + "-images-idx3-ubyte" + ((control & 2) ? ".gz" : ""), in.part());
  scratch().write(prefix + "-labels-idx1-ubyte" + ((control & 4) ? ".gz" : ""), in.rest());
  expect_clean(
      [&] {
        const ImageSet s = lipschitz::gan::load_idx(dir, split);
        if (s.channels != 1 || s.height < 1 || s.width < 1) fail("a bad image shape");
        if (s.pixels.size() != static_cast<std::size_t>(s.count * s.height * s.width))
          fail("pixels do not fill count × H × W");
        if (s.labels.size() != static_cast<std::size_t>(s.count)) fail("not one label per image");
        for (const float p : s.pixels)
          if (!(p >= -1.0f && p <= 1.0f)) fail("a pixel outside [-1, 1]");
      },
      dir);
  return 0;
}
