#include "io/json_locator.hpp"

#include <cmath>
#include <cstdlib>
#include <vector>

namespace msync {

namespace {
struct frame {
  bool is_array;
  std::string path;  // path of this container
  long index;        // next element index (arrays)
  std::string key;   // pending key (objects)
};

std::string child_path(const frame& f) {
  if (f.is_array) return f.path + "[" + std::to_string(f.index) + "]";
  return f.path.empty() ? f.key : f.path + "." + f.key;
}

// Whether a number token is beyond the range of a double. Only a token with an exponent or more
// than 300 characters can be, so most are not converted at all.
bool overflows_double(std::string_view token) {
  if (token.empty() || !(token[0] == '-' || (token[0] >= '0' && token[0] <= '9'))) return false;
  if (token.find_first_of("eE") == std::string_view::npos && token.size() <= 300) return false;
  return std::isinf(std::strtod(std::string(token).c_str(), nullptr));
}
}  // namespace

json_locator::json_locator(std::string_view text) {
  std::vector<frame> stack;
  long line = 1;
  bool expect_key = false;
  auto record_value = [&](long at) {
    if (stack.empty()) {
      lines_.emplace("", at);
      return;
    }
    std::string path = child_path(stack.back());
    if (!lines_.emplace(path, at).second && !stack.back().is_array)
      duplicates_.emplace_back(std::move(path), at);
  };
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '\n') {
      ++line;
      continue;
    }
    if (c == ' ' || c == '\t' || c == '\r' || c == ':') continue;
    if (c == ',') {
      if (!stack.empty()) {
        if (stack.back().is_array)
          ++stack.back().index;
        else
          expect_key = true;
      }
      continue;
    }
    if (c == '{' || c == '[') {
      record_value(line);
      std::string path = stack.empty() ? std::string() : child_path(stack.back());
      stack.push_back(frame{c == '[', std::move(path), 0, {}});
      expect_key = c == '{';
      continue;
    }
    if (c == '}' || c == ']') {
      if (!stack.empty()) stack.pop_back();
      expect_key = false;
      continue;
    }
    if (c == '"') {
      std::string s;
      const long start = line;
      for (++i; i < text.size() && text[i] != '"'; ++i) {
        if (text[i] == '\\' && i + 1 < text.size()) {
          s.push_back(text[++i]);  // an escaped character; \uXXXX keys are not expected here
          continue;
        }
        if (text[i] == '\n') ++line;
        s.push_back(text[i]);
      }
      if (expect_key && !stack.empty() && !stack.back().is_array) {
        stack.back().key = std::move(s);
        expect_key = false;
      } else {
        record_value(start);
      }
      continue;
    }
    // A number, true, false or null: record it and skip to its end.
    record_value(line);
    const std::size_t start = i;
    while (i + 1 < text.size() && text[i + 1] != ',' && text[i + 1] != '}' && text[i + 1] != ']' &&
           text[i + 1] != '\n' && text[i + 1] != ' ' && text[i + 1] != '\t' && text[i + 1] != '\r')
      ++i;
    const std::string_view token = text.substr(start, i + 1 - start);
    if (overflows_double(token))
      overflows_.push_back(json_number_overflow{
          stack.empty() ? std::string() : child_path(stack.back()), line, std::string(token)});
  }
}

long json_locator::line(const std::string& path) const {
  std::string p = path;
  for (;;) {
    auto it = lines_.find(p);
    if (it != lines_.end()) return it->second;
    const std::size_t cut = p.find_last_of(".[");
    if (cut == std::string::npos || p.empty()) return 1;
    p.erase(cut);
  }
}

}  // namespace msync

#include <cmath>

#include "marginsync/errors.hpp"

namespace msync {

void json_document::problem(problem_list& problems, const std::string& path,
                            std::string reason) const {
  problems.add(file, where.line(path), path, std::move(reason));
}

bool json_document::number(const nlohmann::json& object, const std::string& key,
                           const std::string& path, double& out, problem_list& problems) const {
  auto it = object.find(key);
  if (it == object.end()) return true;
  if (!it->is_number()) {
    problem(problems, path, "expected a number, got " + excerpt(it->dump()));
    return false;
  }
  const double v = it->get<double>();
  if (!std::isfinite(v)) {
    problem(problems, path, "must be finite");
    return false;
  }
  out = v;
  return true;
}

bool json_document::integer(const nlohmann::json& object, const std::string& key,
                            const std::string& path, std::int64_t& out,
                            problem_list& problems) const {
  auto it = object.find(key);
  if (it == object.end()) return true;
  if (it->is_number_integer()) {
    out = it->get<std::int64_t>();
    return true;
  }
  if (it->is_number_float()) {
    const double v = it->get<double>();
    if (std::isfinite(v) && v == std::floor(v) && std::fabs(v) < 9.0e15) {
      out = static_cast<std::int64_t>(v);
      return true;
    }
  }
  problem(problems, path, "expected a whole number, got " + excerpt(it->dump()));
  return false;
}

bool json_document::text(const nlohmann::json& object, const std::string& key,
                         const std::string& path, std::string& out, problem_list& problems) const {
  auto it = object.find(key);
  if (it == object.end()) return true;
  if (!it->is_string()) {
    problem(problems, path, "expected a string, got " + excerpt(it->dump()));
    return false;
  }
  out = it->get<std::string>();
  return true;
}

namespace {
// The line of the first '[' or '{' that opens a level deeper than max_json_depth; 0 when none.
long too_deep_at(const std::string& text) {
  int depth = 0;
  long line = 1;
  bool in_string = false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '\n') {
      ++line;
    } else if (in_string) {
      if (c == '\\')
        ++i;  // the escaped character cannot end the string
      else if (c == '"')
        in_string = false;
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > max_json_depth) return line;
    } else if (c == ']' || c == '}') {
      --depth;
    }
  }
  return 0;
}

// nlohmann's message without its "[json.exception.parse_error.101] " prefix.
std::string without_prefix(const std::string& what) {
  const std::size_t bracket = what.find("] ");
  return bracket == std::string::npos ? what : what.substr(bracket + 2);
}
}  // namespace

std::optional<json_document> parse_json_text(const std::string& text, const std::string& name,
                                             problem_list& problems) {
  if (const long line = too_deep_at(text)) {
    problems.add(
        name, line, "",
        "arrays and objects nested deeper than " + std::to_string(max_json_depth) + " levels");
    return std::nullopt;
  }
  nlohmann::json root;
  try {
    root = nlohmann::json::parse(text);
  } catch (const nlohmann::json::out_of_range& e) {
    // 406: a number beyond the range of a double. The parser gives no position; the locator,
    // which reads every number, finds the key and line of each.
    const json_locator where(text);
    for (const json_number_overflow& n : where.overflowing_numbers())
      problems.add(name, n.line, n.path,
                   quote_input(n.text) + " is out of the range of a double (about 1.8e308)");
    if (where.overflowing_numbers().empty())
      problems.add(name, 1, "", "invalid JSON: " + without_prefix(e.what()));
    return std::nullopt;
  } catch (const nlohmann::json::parse_error& e) {
    long line = 1;
    for (std::size_t i = 0; i < e.byte && i < text.size(); ++i)
      if (text[i] == '\n') ++line;
    std::string what = e.what();
    // nlohmann's message starts with "[json.exception.parse_error.101] parse error at line..".
    const std::size_t colon = what.find(": ", what.find("parse error"));
    problems.add(name, line, "",
                 "invalid JSON: " + (colon == std::string::npos ? what : what.substr(colon + 2)));
    return std::nullopt;
  }
  if (!root.is_object()) {
    problems.add(name, 1, "", "expected a JSON object at the top level");
    return std::nullopt;
  }
  json_document doc{name, std::move(root), json_locator(text)};
  bool repeated = false;
  for (const auto& [key_path, line] : doc.where.duplicate_keys()) {
    problems.add(name, line, key_path, "key appears more than once in its object");
    repeated = true;
  }
  if (repeated) return std::nullopt;
  return doc;
}

}  // namespace msync
