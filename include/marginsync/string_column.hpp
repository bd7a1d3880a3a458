#pragma once
// A list of ids as one column of characters and one of offsets (docs/design.md 1.2, 12.2), each id
// read as a std::string_view where it lies: owned arrays when loaded from CSV, views of the mapped
// snapshot's string table when loaded from one, so that a snapshot's ids cost no memory of their
// own (a std::string per id would cost 32 bytes and an allocation for a long one). The layout is
// the snapshot's: id i is chars[offsets[i], offsets[i + 1]), offsets starting at 0.
//
// Appending (push_back) first copies a view into owned arrays, as column<T> does; set() replaces
// one id by building the list again (O(n): for edits of a test book, never a hot path). A copy
// owns its arrays. Host code only.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <initializer_list>
#include <iterator>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "marginsync/column.hpp"

namespace msync {

class string_column {
 public:
  class const_iterator {
   public:
    using iterator_category = std::random_access_iterator_tag;
    using value_type = std::string_view;
    using difference_type = std::ptrdiff_t;
    using pointer = void;
    using reference = std::string_view;

    const_iterator() = default;
    const_iterator(const string_column* c, std::size_t i) : c_(c), i_(i) {}
    std::string_view operator*() const { return (*c_)[i_]; }
    std::string_view operator[](difference_type k) const {
      return (*c_)[static_cast<std::size_t>(static_cast<difference_type>(i_) + k)];
    }
    const_iterator& operator++() {
      ++i_;
      return *this;
    }
    const_iterator operator++(int) {
      const_iterator old = *this;
      ++i_;
      return old;
    }
    const_iterator& operator--() {
      --i_;
      return *this;
    }
    const_iterator operator--(int) {
      const_iterator old = *this;
      --i_;
      return old;
    }
    const_iterator& operator+=(difference_type k) {
      i_ = static_cast<std::size_t>(static_cast<difference_type>(i_) + k);
      return *this;
    }
    const_iterator& operator-=(difference_type k) { return *this += -k; }
    friend const_iterator operator+(const_iterator it, difference_type k) { return it += k; }
    friend const_iterator operator+(difference_type k, const_iterator it) { return it += k; }
    friend const_iterator operator-(const_iterator it, difference_type k) { return it -= k; }
    friend difference_type operator-(const const_iterator& a, const const_iterator& b) {
      return static_cast<difference_type>(a.i_) - static_cast<difference_type>(b.i_);
    }
    friend bool operator==(const const_iterator& a, const const_iterator& b) {
      return a.i_ == b.i_;
    }
    friend bool operator!=(const const_iterator& a, const const_iterator& b) {
      return a.i_ != b.i_;
    }
    friend bool operator<(const const_iterator& a, const const_iterator& b) { return a.i_ < b.i_; }
    friend bool operator>(const const_iterator& a, const const_iterator& b) { return a.i_ > b.i_; }
    friend bool operator<=(const const_iterator& a, const const_iterator& b) {
      return a.i_ <= b.i_;
    }
    friend bool operator>=(const const_iterator& a, const const_iterator& b) {
      return a.i_ >= b.i_;
    }

   private:
    const string_column* c_ = nullptr;
    std::size_t i_ = 0;
  };
  using iterator = const_iterator;  // ids change through set() and push_back() only
  using value_type = std::string_view;
  using size_type = std::size_t;

  string_column() = default;
  string_column(std::initializer_list<std::string_view> ids) { assign(ids.begin(), ids.end()); }
  string_column(const std::vector<std::string>& ids) {  // NOLINT: implicit, as the vector it was
    assign(ids.begin(), ids.end());
  }
  template <class It, class = typename std::iterator_traits<It>::iterator_category>
  string_column(It first, It last) {
    assign(first, last);
  }

  // A view of `count` ids laid out as the snapshot's string table: offsets (count + 1 of them, the
  // first 0, never decreasing) and characters (offsets[count] of them), kept alive by `keeper`.
  static string_column view(std::uint64_t* offsets, char* chars, std::size_t count,
                            const std::shared_ptr<const void>& keeper) {
    string_column c;
    c.offsets_ = column<std::uint64_t>::view(offsets, count + 1, keeper);
    c.chars_ = column<char>::view(chars, static_cast<std::size_t>(offsets[count]), keeper);
    return c;
  }
  // Whether the ids are a view of a mapping (rather than owned).
  bool is_view() const noexcept { return offsets_.is_view(); }

  std::size_t size() const noexcept { return offsets_.empty() ? 0 : offsets_.size() - 1; }
  bool empty() const noexcept { return size() == 0; }
  std::string_view operator[](std::size_t i) const noexcept {
    return {chars_.data() + offsets_[i], static_cast<std::size_t>(offsets_[i + 1] - offsets_[i])};
  }
  std::string_view front() const noexcept { return (*this)[0]; }
  std::string_view back() const noexcept { return (*this)[size() - 1]; }
  const_iterator begin() const noexcept { return {this, 0}; }
  const_iterator end() const noexcept { return {this, size()}; }
  // Characters of all ids together.
  std::size_t characters() const noexcept { return chars_.size(); }

  void reserve(std::size_t ids, std::size_t characters = 0) {
    offsets_.reserve(ids + 1);
    if (characters) chars_.reserve(characters);
  }
  void clear() noexcept {
    offsets_.clear();
    chars_.clear();
  }
  void push_back(std::string_view id) {
    if (!id.empty() && !chars_.empty() && chars_.data() <= id.data() &&
        id.data() < chars_.data() + chars_.size()) {
      push_back(std::string(id));  // one of this list's own ids: copied aside before growing
      return;
    }
    if (offsets_.empty()) offsets_.push_back(0);
    const std::size_t at = chars_.size();
    chars_.resize_for_overwrite(at + id.size());
    if (!id.empty()) std::memcpy(chars_.data() + at, id.data(), id.size());
    offsets_.push_back(static_cast<std::uint64_t>(at + id.size()));
  }
  template <class It, class = typename std::iterator_traits<It>::iterator_category>
  void assign(It first, It last) {
    string_column fresh;
    for (; first != last; ++first) fresh.push_back(std::string_view(*first));
    *this = std::move(fresh);
  }
  // Replaces id i (the list is built again).
  void set(std::size_t i, std::string_view id) {
    string_column fresh;
    fresh.reserve(size(), characters() + id.size());
    for (std::size_t k = 0; k < size(); ++k) fresh.push_back(k == i ? id : (*this)[k]);
    *this = std::move(fresh);
  }

  friend bool operator==(const string_column& a, const string_column& b) {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i)
      if (a[i] != b[i]) return false;
    return true;
  }
  friend bool operator!=(const string_column& a, const string_column& b) { return !(a == b); }

 private:
  column<std::uint64_t> offsets_;  // size() + 1 entries, or none while empty
  column<char> chars_;
};

}  // namespace msync
