// Tests npy.hpp: round trips, both dtypes and byte orders, and every error named.
#include <doctest/doctest.h>
#include <lipschitz/npy.hpp>

#include <cstdio>
#include <fstream>
#include <string>

using namespace lipschitz;

namespace {
std::string temp_path(const std::string& name) { return "npy_test_" + name + ".npy"; }

void write_raw(const std::string& path, const std::string& header_dict, const std::string& payload,
               int version = 1) {
  std::string header = header_dict;
  const std::size_t pre = version == 1 ? 10 : 12;
  header.append((64 - (pre + header.size() + 1) % 64) % 64, ' ');
  header.push_back('\n');
  std::ofstream out(path, std::ios::binary);
  out.write("\x93NUMPY", 6);
  out.put(char(version));
  out.put(0);
  const std::size_t n = header.size();
  out.put(char(n & 0xff));
  out.put(char((n >> 8) & 0xff));
  if (version != 1) {
    out.put(0);
    out.put(0);
  }
  out << header << payload;
}
}  // namespace

TEST_CASE("write then read, float64 and float32") {
  const std::string p = temp_path("roundtrip");
  const std::vector<double> data{1.5, -2.25, 3.0, 1e-300, 0.0, 7.0};
  write_npy(p, {2, 3}, data);
  NpyArray a = read_npy(p);
  CHECK(a.dtype == "float64");
  CHECK(a.shape == std::vector<std::int64_t>{2, 3});
  CHECK(a.data == data);
  write_npy(p, {3, 1, 2}, {1.5, -2.25, 3.0, 0.1, 0.0, 7.0}, true);
  a = read_npy(p);
  CHECK(a.dtype == "float32");
  CHECK(a.shape == std::vector<std::int64_t>{3, 1, 2});
  CHECK(a.data[3] == double(0.1f));
  std::remove(p.c_str());
}

TEST_CASE("big-endian and version 2 headers") {
  const std::string p = temp_path("be");
  const char be_two[8] = {0x40, 0, 0, 0, 0, 0, 0, 0};  // 2.0 as big-endian float64
  write_raw(p, "{'descr': '>f8', 'fortran_order': False, 'shape': (1,), }", std::string(be_two, 8),
            2);
  const NpyArray a = read_npy(p);
  CHECK(a.data == std::vector<double>{2.0});
  std::remove(p.c_str());
}

TEST_CASE("errors name the file and the problem") {
  const std::string p = temp_path("bad");
  CHECK_THROWS_WITH_AS(read_npy("no_such_file.npy"),
                       "cannot open no_such_file.npy: No such file or directory", NpyError);
  {
    std::ofstream out(p, std::ios::binary);
    out << "hello world, not numpy";
  }
  CHECK_THROWS_WITH_AS(
      read_npy(p), (p + ": not a NumPy .npy file (the magic string \\x93NUMPY is missing)").c_str(),
      NpyError);
  write_raw(p, "{'descr': '<f8', 'fortran_order': True, 'shape': (2, 2), }", std::string(32, '\0'));
  CHECK_THROWS_WITH_AS(
      read_npy(p),
      (p + ": Fortran-order arrays are not supported; save np.ascontiguousarray(w) instead")
          .c_str(),
      NpyError);
  write_raw(p, "{'descr': '<i8', 'fortran_order': False, 'shape': (2,), }", std::string(16, '\0'));
  CHECK_THROWS_WITH_AS(
      read_npy(p),
      (p + ": dtype '<i8' is not supported: expected float32 ('<f4') or float64 ('<f8')").c_str(),
      NpyError);
  write_raw(p, "{'descr': '<c16', 'fortran_order': False, 'shape': (2,), }", std::string(32, '\0'));
  CHECK_THROWS_AS(read_npy(p), NpyError);
  write_raw(p, "{'descr': '<f4', 'fortran_order': False, 'shape': (4, 4), }",
            std::string(40, '\0'));
  CHECK_THROWS_WITH_AS(
      read_npy(p),
      (p + ": truncated: shape (4, 4) needs 64 bytes of data, the file has 40").c_str(), NpyError);
  write_raw(p, "{'descr': '<f4', 'fortran_order': False, }", "");
  CHECK_THROWS_WITH_AS(read_npy(p), (p + ": header has no 'shape' field").c_str(), NpyError);
  {
    std::ofstream out(p, std::ios::binary);
    out.write("\x93NUMPY\x01\x00\xff", 9);
  }
  CHECK_THROWS_WITH_AS(read_npy(p), (p + ": truncated in the header").c_str(), NpyError);
  std::remove(p.c_str());
}
