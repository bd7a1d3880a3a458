#pragma once
// Dense indices of ids by their text, for the book loader: ids are added once, in file order, then
// looked up by every thread reading position rows (10 M lookups for a 10 M-row positions.csv).
// The ids are views (into the file text, which outlives the index). An open-addressing table kept
// at most half full, 8 bytes a slot in one array: std::unordered_map allocates a node per id and
// follows a pointer (a cache miss in a map of a million accounts) on every lookup, which made it
// the largest cost of loading a book; no hash map library is a dependency of the project.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>
#include <vector>

namespace msync {

class id_index {
 public:
  // Room for `count` ids without growing.
  void reserve(std::size_t count) {
    std::size_t capacity = 16;
    while (capacity < 2 * count) capacity *= 2;
    if (capacity > slots_.size()) rehash(capacity);
    ids_.reserve(count);
    values_.reserve(count);
  }

  // Adds `id` with `value`; false (the first value kept) when the id is already there.
  bool insert(std::string_view id, std::uint32_t value) {
    if (2 * (ids_.size() + 1) > slots_.size()) rehash(slots_.empty() ? 16 : 2 * slots_.size());
    const std::uint64_t h = hash(id);
    for (std::size_t s = h & mask_;; s = (s + 1) & mask_) {
      const std::uint64_t slot = slots_[s];
      if (slot == 0) {
        slots_[s] = tag(h) | (ids_.size() + 1);
        ids_.push_back(id);
        values_.push_back(value);
        return true;
      }
      if (matches(slot, h, id)) return false;
    }
  }

  // The value of `id`, or nullptr when it was never added.
  const std::uint32_t* find(std::string_view id) const {
    if (slots_.empty()) return nullptr;
    const std::uint64_t h = hash(id);
    for (std::size_t s = h & mask_;; s = (s + 1) & mask_) {
      const std::uint64_t slot = slots_[s];
      if (slot == 0) return nullptr;
      if (matches(slot, h, id)) return &values_[(slot & entry_bits) - 1];
    }
  }

  // The same, trying first the id added at `entry` and the one after it: looking up ids in the
  // order they were added (positions.csv in the order of accounts.csv, an account's rows together)
  // then reads the ids in sequence instead of missing the cache once per account. `entry` is
  // updated to the id found.
  const std::uint32_t* find_from(std::string_view id, std::size_t& entry) const {
    for (std::size_t e = entry; e < entry + 2 && e < ids_.size(); ++e)
      if (same(ids_[e], id)) {
        entry = e;
        return &values_[e];
      }
    if (slots_.empty()) return nullptr;
    const std::uint64_t h = hash(id);
    for (std::size_t s = h & mask_;; s = (s + 1) & mask_) {
      const std::uint64_t slot = slots_[s];
      if (slot == 0) return nullptr;
      if (matches(slot, h, id)) {
        entry = (slot & entry_bits) - 1;
        return &values_[entry];
      }
    }
  }

  std::size_t size() const noexcept { return ids_.size(); }

  // A fast mix of the id's bytes, 8 at a time (ids are short: "A0000001", "BTC-20261225"); the last
  // word overlaps the one before it rather than being copied byte by byte.
  static std::uint64_t hash(std::string_view id) noexcept {
    const std::size_t n = id.size();
    std::uint64_t h = 0x9e3779b97f4a7c15ull ^ n;
    if (n >= 8) {
      for (std::size_t i = 0; i + 8 < n; i += 8) h = mix(h ^ load64(id.data() + i));
      h = mix(h ^ load64(id.data() + n - 8));
    } else if (n >= 4) {
      h = mix(h ^ (load32(id.data()) | std::uint64_t{load32(id.data() + n - 4)} << 32));
    } else if (n > 0) {
      const auto byte = [&](std::size_t i) {
        return std::uint64_t{static_cast<unsigned char>(id[i])};
      };
      h = mix(h ^ (byte(0) | byte(n / 2) << 8 | byte(n - 1) << 16));
    }
    return mix(h);
  }

  // a == b, comparing ids of up to 16 bytes in two overlapping words (no call to memcmp).
  static bool same(std::string_view a, std::string_view b) noexcept {
    const std::size_t n = a.size();
    if (n != b.size()) return false;
    if (n < 8 || n > 16) return a == b;
    return load64(a.data()) == load64(b.data()) &&
           load64(a.data() + n - 8) == load64(b.data() + n - 8);
  }

 private:
  // A slot: 0 when empty, else the hash's high 32 bits, then the entry's position + 1.
  static constexpr std::uint64_t entry_bits = 0xffffffffull;
  static std::uint64_t tag(std::uint64_t h) noexcept { return h & ~entry_bits; }
  static std::uint64_t load64(const char* p) noexcept {
    std::uint64_t word;
    std::memcpy(&word, p, 8);
    return word;
  }
  static std::uint32_t load32(const char* p) noexcept {
    std::uint32_t word;
    std::memcpy(&word, p, 4);
    return word;
  }
  static std::uint64_t mix(std::uint64_t x) noexcept {  // SplitMix64's finaliser
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
  }
  bool matches(std::uint64_t slot, std::uint64_t h, std::string_view id) const noexcept {
    return tag(slot) == tag(h) && same(ids_[(slot & entry_bits) - 1], id);
  }
  void rehash(std::size_t capacity) {
    slots_.assign(capacity, 0);
    mask_ = capacity - 1;
    for (std::size_t e = 0; e < ids_.size(); ++e) {
      const std::uint64_t h = hash(ids_[e]);
      std::size_t s = h & mask_;
      while (slots_[s] != 0) s = (s + 1) & mask_;
      slots_[s] = tag(h) | (e + 1);
    }
  }

  std::vector<std::uint64_t> slots_;
  std::size_t mask_ = 0;
  std::vector<std::string_view> ids_;
  std::vector<std::uint32_t> values_;
};

}  // namespace msync
