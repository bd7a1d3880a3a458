#include "io/tick_stream.hpp"

namespace msync {

tick_reader::tick_reader(std::istream& in, std::string name, const std::vector<std::string>& symbols,
                         std::function<void(const input_problem&)> on_problem)
    : in_(in), name_(name == "-" ? "<stdin>" : std::move(name)), on_problem_(std::move(on_problem)) {
  for (std::uint32_t u = 0; u < symbols.size(); ++u) symbol_index_[symbols[u]] = u;
}

std::optional<stream_event> tick_reader::next() { return std::nullopt; }

}  // namespace msync
