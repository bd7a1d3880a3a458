#pragma once
// Line numbers for JSON values. nlohmann::json parses without positions, so this scans the text
// once and records, for every value, the line it starts on under a path such as
// "underlyings[1].vol", "correlation[0][1]" or "tiers.standard.im_multiplier". Error messages
// then name the line a person has to fix.
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace msync {

// Arrays and objects nested deeper than this are bad input, refused before parsing: the locator
// keeps a path per level, as long as the level, so memory grows with the square of the depth (a
// 40 KB file could ask for gigabytes). No input of docs/design.md section 2 nests deeper than 4
// (market.json: surface, an underlying's slices, a slice).
constexpr int max_json_depth = 64;

// A number too large for a double (1e400), which the JSON parser refuses without a position.
struct json_number_overflow {
  std::string path;
  long line;
  std::string text;
};

class json_locator {
 public:
  explicit json_locator(std::string_view text);
  // Line of the value at `path`; for a missing path, the line of its closest present parent; 1
  // when nothing matches.
  long line(const std::string& path) const;
  // Keys that appear more than once in one object (JSON parsers keep only one of them): path and
  // line of each repeat.
  const std::vector<std::pair<std::string, long>>& duplicate_keys() const { return duplicates_; }
  // Numbers whose magnitude is beyond the largest double, in text order.
  const std::vector<json_number_overflow>& overflowing_numbers() const { return overflows_; }

 private:
  std::unordered_map<std::string, long> lines_;
  std::vector<std::pair<std::string, long>> duplicates_;
  std::vector<json_number_overflow> overflows_;
};

}  // namespace msync

#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>

#include "io/input_files.hpp"

namespace msync {

class problem_list;

// A parsed JSON file with the line of every value, and typed getters that report what is wrong as
// FILE:LINE: column 'PATH': reason instead of throwing.
struct json_document {
  std::string file;
  nlohmann::json root;
  json_locator where;

  void problem(problem_list& problems, const std::string& path, std::string reason) const;
  // Each getter leaves `out` unchanged when the key is absent (the default applies) and returns
  // false with a problem recorded when the value is there but unusable.
  bool number(const nlohmann::json& object, const std::string& key, const std::string& path,
              double& out, problem_list& problems) const;
  bool integer(const nlohmann::json& object, const std::string& key, const std::string& path,
               std::int64_t& out, problem_list& problems) const;
  bool text(const nlohmann::json& object, const std::string& key, const std::string& path,
            std::string& out, problem_list& problems) const;
};

// Parses `text`; `name` is the file name used in problems.
std::optional<json_document> parse_json_text(const std::string& text, const std::string& name,
                                             problem_list& problems);

}  // namespace msync
