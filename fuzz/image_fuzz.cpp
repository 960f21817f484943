// load_image_folder on one image file of any bytes (PNG and JPEG decoding by stb_image, resize,
// crop): size × size images, or DataError naming the file. Control bytes: the extension and the
// channel count, then the output side (1…64).

#include "fuzz_input.hpp"

#include <gan/image_data.hpp>

using namespace lipschitz::fuzz;
using lipschitz::gan::ImageSet;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  Input in(data, size);
  const std::uint8_t control = in.byte();
  const std::int64_t side = 1 + in.byte() % 64;
  const std::int64_t channels = (control & 2) ? 3 : 1;
  static const char* const kExtensions[] = {".png", ".jpg", ".JPEG", ".Png"};
  const std::string dir = scratch().reset();
  const std::string file = scratch().write(std::string("images/a") + kExtensions[(control >> 2) & 3], in.rest());
  expect_clean(
      [&] {
        const ImageSet s = lipschitz::gan::load_image_folder(dir, side, channels);
        if (s.count != 1 || s.channels != channels || s.height != side || s.width != side)
          fail("not one image of the asked shape");
        if (s.pixels.size() != static_cast<std::size_t>(channels * side * side)) fail("pixel count");
        for (const float p : s.pixels)
          if (!(p >= -1.0f && p <= 1.0f)) fail("a pixel outside [-1, 1]");
      },
      dir);
  return 0;
}
