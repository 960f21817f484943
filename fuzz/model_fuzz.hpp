#pragma once
// The three model readers' fuzz targets share this: the input after a control byte is the model
// file; the control byte picks the input shape (the model's own, or one given as --input-shape
// would give it). An imported model must have layers whose shapes chain.

#include "fuzz_input.hpp"

#include <report/model_import.hpp>

#include <optional>

namespace lipschitz::fuzz {

inline std::optional<lipschitz::Shape> shape_choice(std::uint8_t control) {
  switch (control % 4) {
    case 1: return lipschitz::Shape{2};
    case 2: return lipschitz::Shape{1, 8, 8};
    case 3: return lipschitz::Shape{3, 8, 8};
    default: return std::nullopt;
  }
}

template <class Import>
void fuzz_model(const std::uint8_t* data, std::size_t size, const char* file_name, Import import) {
  Input in(data, size);
  const std::optional<lipschitz::Shape> shape = shape_choice(in.byte());
  scratch().reset();
  const std::string path = scratch().write(file_name, in.rest());
  expect_clean(
      [&] {
        const lipschitz::report::ImportedModel m = import(path, shape);
        if (m.input_shape.empty()) fail("an imported model without an input shape");
      },
      path);
}

}  // namespace lipschitz::fuzz
