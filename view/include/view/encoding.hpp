#pragma once
/// \file encoding.hpp
/// Text encodings the page needs: base64 for embedded images, escaping for XML and HTML.

#include <string>

namespace lipschitz::view {

/// Standard base64 (RFC 4648 §4, with '=' padding) of arbitrary bytes.
/// Example: base64_encode("Man") == "TWFu", base64_encode("M") == "TQ==".
std::string base64_encode(const std::string& bytes);

/// `bytes` as a data URI: "data:MIME;base64,…".
std::string data_uri(const std::string& mime, const std::string& bytes);

/// Escapes &, <, >, " and ' for XML/HTML text and attribute values. Other UTF-8 passes through.
std::string xml_escape(const std::string& text);

}  // namespace lipschitz::view
