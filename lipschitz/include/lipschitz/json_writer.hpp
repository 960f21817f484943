#pragma once
// A minimal streaming JSON writer (objects, arrays, numbers, strings, booleans) for the reports
// and logs, so neither the core nor the tools need a JSON dependency.

#include <cmath>
#include <cstdio>
#include <ostream>
#include <string>
#include <vector>

namespace lipschitz {

class JsonWriter {
 public:
  explicit JsonWriter(std::ostream& out) : out_(out) {}
  JsonWriter& begin_object() {
    value_prefix();
    out_ << '{';
    first_ = true;
    return *this;
  }
  JsonWriter& end_object() {
    out_ << '}';
    first_ = false;
    return *this;
  }
  JsonWriter& begin_array() {
    value_prefix();
    out_ << '[';
    first_ = true;
    return *this;
  }
  JsonWriter& end_array() {
    out_ << ']';
    first_ = false;
    return *this;
  }
  JsonWriter& key(const std::string& k) {
    if (!first_) out_ << ", ";
    write_string(k);
    out_ << ": ";
    after_key_ = true;
    return *this;
  }
  JsonWriter& value(double v) {
    value_prefix();
    if (!std::isfinite(v)) {
      out_ << "null";
    } else {
      char buf[32];
      std::snprintf(buf, sizeof buf, "%.17g", v);
      out_ << buf;
    }
    return *this;
  }
  JsonWriter& value(long long v) {
    value_prefix();
    out_ << v;
    return *this;
  }
  JsonWriter& value(bool v) {
    value_prefix();
    out_ << (v ? "true" : "false");
    return *this;
  }
  JsonWriter& value(const std::string& v) {
    value_prefix();
    write_string(v);
    return *this;
  }
  JsonWriter& value(const char* v) { return value(std::string(v)); }
  template <class Int>
  JsonWriter& int_array(const std::vector<Int>& v) {
    begin_array();
    for (auto x : v) value(static_cast<long long>(x));
    return end_array();
  }
  JsonWriter& double_array(const std::vector<double>& v) {
    begin_array();
    for (double x : v) value(x);
    return end_array();
  }

 private:
  void value_prefix() {
    if (!after_key_ && !first_) out_ << ", ";
    after_key_ = false;
    first_ = false;
  }
  void write_string(const std::string& s) {
    out_ << '"';
    for (char c : s) {
      switch (c) {
        case '"':
          out_ << "\\\"";
          break;
        case '\\':
          out_ << "\\\\";
          break;
        case '\n':
          out_ << "\\n";
          break;
        case '\t':
          out_ << "\\t";
          break;
        default:
          if (static_cast<unsigned char>(c) < 0x20) {
            char buf[8];
            std::snprintf(buf, sizeof buf, "\\u%04x", c);
            out_ << buf;
          } else {
            out_ << c;
          }
      }
    }
    out_ << '"';
  }
  std::ostream& out_;
  bool first_ = true;
  bool after_key_ = false;
};

}  // namespace lipschitz
