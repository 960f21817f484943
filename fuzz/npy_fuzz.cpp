// read_npy on any bytes (a weight file from someone else): an array whose values fill its shape,
// or NpyError naming the file.

#include "fuzz_input.hpp"

#include <lipschitz/npy.hpp>

#include <functional>
#include <numeric>

using namespace lipschitz::fuzz;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  scratch().reset();
  const std::string path = scratch().write("weight.npy", {reinterpret_cast<const char*>(data), size});
  expect_clean(
      [&] {
        const lipschitz::NpyArray a = lipschitz::read_npy(path);
        std::int64_t n = 1;
        for (const std::int64_t d : a.shape) {
          if (d < 0) fail("a negative dimension");
          n *= d;
        }
        if (static_cast<std::size_t>(n) != a.data.size()) fail("values do not fill the shape");
        if (a.dtype != "float32" && a.dtype != "float64") fail("dtype " + a.dtype);
      },
      path);
  return 0;
}
