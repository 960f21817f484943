#include <lipschitz/npy.hpp>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <limits>
#include <sstream>

namespace lipschitz {
namespace {

[[noreturn]] void fail(const std::string& path, const std::string& what) {
  throw NpyError(path + ": " + what);
}

// Value of `key` in the header dict: the text after "'key':" up to the matching end.
std::string dict_value(const std::string& header, const std::string& key, const std::string& path) {
  const std::string quoted[] = {"'" + key + "'", "\"" + key + "\""};
  std::size_t at = std::string::npos;
  for (const auto& q : quoted)
    if ((at = header.find(q)) != std::string::npos) {
      at += q.size();
      break;
    }
  if (at == std::string::npos) fail(path, "header has no '" + key + "' field");
  at = header.find(':', at);
  if (at == std::string::npos) fail(path, "header field '" + key + "' has no value");
  ++at;
  while (at < header.size() && header[at] == ' ') ++at;
  if (at >= header.size()) fail(path, "header field '" + key + "' has no value");
  if (header[at] == '(') {
    const std::size_t end = header.find(')', at);
    if (end == std::string::npos) fail(path, "header field '" + key + "' is not a closed tuple");
    return header.substr(at, end - at + 1);
  }
  if (header[at] == '\'' || header[at] == '"') {
    const std::size_t end = header.find(header[at], at + 1);
    if (end == std::string::npos) fail(path, "header field '" + key + "' is not a closed string");
    return header.substr(at + 1, end - at - 1);
  }
  std::size_t end = at;
  while (end < header.size() && header[end] != ',' && header[end] != '}') ++end;
  std::string v = header.substr(at, end - at);
  while (!v.empty() && v.back() == ' ') v.pop_back();
  return v;
}

std::vector<std::int64_t> parse_shape(const std::string& tuple, const std::string& path) {
  std::vector<std::int64_t> shape;
  std::string body = tuple.substr(1, tuple.size() - 2);
  std::stringstream ss(body);
  std::string item;
  while (std::getline(ss, item, ',')) {
    item.erase(std::remove(item.begin(), item.end(), ' '), item.end());
    if (item.empty()) continue;
    if (item.back() == 'L') item.pop_back();  // Python 2 longs
    if (item.empty() || item.find_first_not_of("0123456789") != std::string::npos ||
        item.size() > 15)
      fail(path, "header 'shape' has a bad dimension '" + item + "' in " + tuple);
    shape.push_back(std::stoll(item));
  }
  return shape;
}

bool host_little_endian() {
  const std::uint16_t one = 1;
  unsigned char b;
  std::memcpy(&b, &one, 1);
  return b == 1;
}

}  // namespace

NpyArray read_npy(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw NpyError("cannot open " + path + ": " + std::strerror(errno));
  in.seekg(0, std::ios::end);
  const std::streamoff file_size = in.tellg();
  in.seekg(0);
  char magic[8];
  if (!in.read(magic, 8) || std::memcmp(magic, "\x93NUMPY", 6) != 0)
    fail(path, "not a NumPy .npy file (the magic string \\x93NUMPY is missing)");
  const int major = static_cast<unsigned char>(magic[6]);
  std::uint32_t header_len = 0;
  if (major == 1) {
    unsigned char b[2];
    if (!in.read(reinterpret_cast<char*>(b), 2)) fail(path, "truncated in the header");
    header_len = b[0] | (b[1] << 8);
  } else if (major == 2 || major == 3) {
    unsigned char b[4];
    if (!in.read(reinterpret_cast<char*>(b), 4)) fail(path, "truncated in the header");
    header_len = b[0] | (b[1] << 8) | (b[2] << 16) | (std::uint32_t(b[3]) << 24);
  } else {
    fail(path,
         "unsupported .npy format version " + std::to_string(major) + " (expected 1, 2 or 3)");
  }
  if (std::streamoff(header_len) > file_size) fail(path, "truncated in the header");
  std::string header(header_len, '\0');
  if (!in.read(header.data(), header_len)) fail(path, "truncated in the header");

  const std::string descr = dict_value(header, "descr", path);
  const std::string fortran = dict_value(header, "fortran_order", path);
  const std::string shape_text = dict_value(header, "shape", path);
  if (fortran == "True")
    fail(path, "Fortran-order arrays are not supported; save np.ascontiguousarray(w) instead");
  if (fortran != "False")
    fail(path, "header 'fortran_order' must be True or False, got '" + fortran + "'");
  if (shape_text.empty() || shape_text.front() != '(')
    fail(path, "header 'shape' is not a tuple: " + shape_text);

  NpyArray a;
  a.shape = parse_shape(shape_text, path);
  if (descr.size() != 3 || descr[1] != 'f' || (descr[2] != '4' && descr[2] != '8') ||
      std::string("<>|=").find(descr[0]) == std::string::npos)
    fail(path,
         "dtype '" + descr + "' is not supported: expected float32 ('<f4') or float64 ('<f8')");
  const std::size_t width = descr[2] == '4' ? 4 : 8;
  a.dtype = width == 4 ? "float32" : "float64";
  const bool little = descr[0] != '>';
  const bool swap = little != host_little_endian();

  std::uint64_t count = 1;
  for (auto d : a.shape) {
    if (d > 0 && count > std::numeric_limits<std::uint64_t>::max() / std::uint64_t(d) / width)
      fail(path, "shape " + shape_text + " is too large");
    count *= std::uint64_t(d);
  }
  const std::uint64_t data_offset = static_cast<std::uint64_t>(in.tellg());
  const std::uint64_t need = count * width;
  const std::uint64_t have = std::uint64_t(file_size) - data_offset;
  if (have < need)
    fail(path, "truncated: shape " + shape_text + " needs " + std::to_string(need) +
                   " bytes of data, the file has " + std::to_string(have));
  std::vector<char> raw(need);
  if (need && !in.read(raw.data(), std::streamsize(need))) fail(path, "read error in the data");
  a.data.resize(count);
  for (std::uint64_t i = 0; i < count; ++i) {
    char* p = raw.data() + i * width;
    if (swap) std::reverse(p, p + width);
    if (width == 4) {
      float f;
      std::memcpy(&f, p, 4);
      a.data[i] = f;
    } else {
      std::memcpy(&a.data[i], p, 8);
    }
  }
  return a;
}

void write_npy(const std::string& path, const std::vector<std::int64_t>& shape,
               const std::vector<double>& data, bool as_float32) {
  std::string dims;
  for (auto d : shape) dims += std::to_string(d) + ", ";
  if (shape.size() > 1) dims.resize(dims.size() - 2);
  std::string header = std::string("{'descr': '") + (as_float32 ? "<f4" : "<f8") +
                       "', 'fortran_order': False, 'shape': (" + dims + "), }";
  const std::size_t total = 10 + header.size() + 1;
  header.append((64 - total % 64) % 64, ' ');
  header.push_back('\n');
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) throw NpyError("cannot write " + tmp + ": " + std::strerror(errno));
    const unsigned char len[2] = {static_cast<unsigned char>(header.size() & 0xff),
                                  static_cast<unsigned char>(header.size() >> 8)};
    out.write("\x93NUMPY\x01\x00", 8);
    out.write(reinterpret_cast<const char*>(len), 2);
    out.write(header.data(), std::streamsize(header.size()));
    for (double v : data) {
      if (as_float32) {
        const float f = static_cast<float>(v);
        out.write(reinterpret_cast<const char*>(&f), 4);
      } else {
        out.write(reinterpret_cast<const char*>(&v), 8);
      }
    }
    out.flush();
    if (!out) throw NpyError("cannot write " + tmp + ": write failed");
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0)
    throw NpyError("cannot rename " + tmp + " to " + path + ": " + std::strerror(errno));
}

}  // namespace lipschitz
