// load_cifar10 on any batch files: records of a label 0…9 and 3×32×32 pixels, or DataError
// naming the file. Control byte: bit 0 the split (train reads five batches, cut from the input),
// bit 1 the batches in cifar-10-batches-bin/.

#include "fuzz_input.hpp"

#include <gan/image_data.hpp>

using namespace lipschitz::fuzz;
using lipschitz::gan::ImageSet;
using lipschitz::gan::Split;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  Input in(data, size);
  const std::uint8_t control = in.byte();
  const Split split = (control & 1) ? Split::test : Split::train;
  const std::string sub = (control & 2) ? "cifar-10-batches-bin/" : "";
  const std::string dir = scratch().reset();
  if (split == Split::test) {
    scratch().write(sub + "test_batch.bin", in.rest());
  } else {
    for (int b = 1; b <= 4; ++b) scratch().write(sub + "data_batch_" + std::to_string(b) + ".bin", in.part());
    scratch().write(sub + "data_batch_5.bin", in.rest());
  }
  expect_clean(
      [&] {
        const ImageSet s = lipschitz::gan::load_cifar10(dir, split);
        if (s.channels != 3 || s.height != 32 || s.width != 32) fail("not 3×32×32");
        if (s.pixels.size() != static_cast<std::size_t>(s.count) * 3 * 32 * 32)
          fail("pixels do not fill count × 3 × 32 × 32");
        if (s.labels.size() != static_cast<std::size_t>(s.count)) fail("not one label per image");
        for (const std::int32_t l : s.labels)
          if (l < 0 || l > 9) fail("a label outside 0…9");
      },
      dir);
  return 0;
}
