#pragma once
// A small well-formedness check for the SVG and HTML the view writes: balanced tags, quoted
// attributes, and every number in geometry attributes finite. Not a full XML parser.

#include <cctype>
#include <cmath>
#include <regex>
#include <string>
#include <vector>

namespace lipschitz::view::testing {

struct XmlCheck {
  bool ok = true;
  std::string problem;
  std::size_t elements = 0;
};

/// Elements HTML writes without a closing tag.
inline bool is_void_html(const std::string& name) {
  static const char* const kVoid[] = {"meta", "img", "br", "hr", "link", "input"};
  for (const char* v : kVoid)
    if (name == v) return true;
  return false;
}

inline XmlCheck check_markup(const std::string& text, bool html = false) {
  XmlCheck r;
  std::vector<std::string> stack;
  static const std::regex number(R"([-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?)");
  static const std::regex attribute(R"re(([A-Za-z_:][-\w:.]*)="([^"]*)")re");
  static const char* const kGeometry[] = {"x",      "y",  "x1",      "x2",       "y1",
                                          "y2",     "cx", "cy",      "r",        "width",
                                          "height", "d",  "viewBox", "transform"};
  std::size_t i = 0;
  while ((i = text.find('<', i)) != std::string::npos) {
    if (text.compare(i, 4, "<!--") == 0) {
      i = text.find("-->", i);
      continue;
    }
    if (text.compare(i, 2, "<?") == 0 || text.compare(i, 2, "<!") == 0) {
      i = text.find('>', i);
      continue;
    }
    const std::size_t end = text.find('>', i);
    if (end == std::string::npos)
      return {false, "unterminated tag at " + std::to_string(i), r.elements};
    std::string tag = text.substr(i + 1, end - i - 1);
    i = end + 1;
    const bool closing = !tag.empty() && tag[0] == '/';
    const bool self = !tag.empty() && tag.back() == '/';
    if (closing) tag = tag.substr(1);
    if (self) tag.pop_back();
    std::size_t n = 0;
    while (n < tag.size() &&
           (std::isalnum(static_cast<unsigned char>(tag[n])) || tag[n] == ':' || tag[n] == '-'))
      ++n;
    const std::string name = tag.substr(0, n);
    if (name.empty()) return {false, "empty tag name near " + std::to_string(i), r.elements};
    if (closing) {
      if (stack.empty() || stack.back() != name)
        return {false, "</" + name + "> closes <" + (stack.empty() ? "" : stack.back()) + ">",
                r.elements};
      stack.pop_back();
      continue;
    }
    ++r.elements;
    // Attributes: every '=' must belong to a quoted value; geometry numbers must be finite.
    const std::string attrs = tag.substr(n);
    std::size_t quoted_eq = 0;
    for (auto it = std::sregex_iterator(attrs.begin(), attrs.end(), attribute);
         it != std::sregex_iterator(); ++it) {
      ++quoted_eq;
      const std::string key = (*it)[1], value = (*it)[2];
      for (const char* g : kGeometry) {
        if (key != g) continue;
        if (value.find("nan") != std::string::npos || value.find("inf") != std::string::npos)
          return {false, "non-finite " + key + "=\"" + value + "\" in <" + name + ">", r.elements};
        for (auto m = std::sregex_iterator(value.begin(), value.end(), number);
             m != std::sregex_iterator(); ++m)
          if (!std::isfinite(std::stod(m->str())))
            return {false, "non-finite number in " + key + " of <" + name + ">", r.elements};
      }
    }
    std::size_t eq = 0;
    bool in_quote = false;
    for (char c : attrs) {
      if (c == '"') in_quote = !in_quote;
      if (c == '=' && !in_quote) ++eq;
    }
    if (eq != quoted_eq || in_quote)
      return {false, "unquoted attribute in <" + name + ">", r.elements};
    if (!self && !(html && is_void_html(name))) stack.push_back(name);
    // Script and style bodies are text, not markup.
    if (name == "script" || name == "style") {
      const std::size_t close = text.find("</" + name + ">", i);
      if (close == std::string::npos) return {false, "unterminated <" + name + ">", r.elements};
      i = close;
    }
  }
  if (!stack.empty()) return {false, "<" + stack.back() + "> never closed", r.elements};
  return r;
}

/// How often `needle` occurs in `hay`.
inline std::size_t count_of(const std::string& hay, const std::string& needle) {
  std::size_t n = 0;
  for (std::size_t i = hay.find(needle); i != std::string::npos;
       i = hay.find(needle, i + needle.size()))
    ++n;
  return n;
}

}  // namespace lipschitz::view::testing
