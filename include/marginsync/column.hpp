#pragma once
// One numeric column of the book (docs/design.md 1, 12.2): the elements either live in a
// std::vector the column owns, or are a view of a region of a memory-mapped snapshot, kept alive by
// a shared pointer to the mapping, so that a snapshot's arrays are used where they lie instead of
// being copied. The mapping is private and writable: a write to an element (a patch's quantities,
// costs and collateral) copies only the page it falls on, never the file.
//
// It offers the part of std::vector's interface the code uses. Every call that changes the size
// first copies a view into owned storage; a copy of a column owns its elements (a vector's value
// semantics: writing one never changes the other), a move keeps a view a view. Host code only:
// kernels see data() and size().
#include <algorithm>
#include <cstddef>
#include <functional>
#include <initializer_list>
#include <iterator>
#include <memory>
#include <type_traits>
#include <utility>
#include <vector>

#include "marginsync/uninitialized_vector.hpp"

namespace msync {

template <class T>
class column {
  static_assert(std::is_trivially_copyable<T>::value, "a column holds plain numbers");

 public:
  using value_type = T;
  using size_type = std::size_t;
  using difference_type = std::ptrdiff_t;
  using reference = T&;
  using const_reference = const T&;
  using pointer = T*;
  using const_pointer = const T*;
  using iterator = T*;
  using const_iterator = const T*;

  column() noexcept = default;
  column(const std::vector<T>& v) : owned_(v.begin(), v.end()) { sync(); }  // NOLINT: implicit
  column(std::initializer_list<T> list) : owned_(list) { sync(); }
  explicit column(size_type n, T value = T()) : owned_(n, value) { sync(); }
  template <class It, class = typename std::iterator_traits<It>::iterator_category>
  column(It first, It last) : owned_(first, last) {
    sync();
  }

  // A view of the n elements at `data`, which stay valid while `keeper` (their mapping) lives.
  static column view(T* data, size_type n, std::shared_ptr<const void> keeper) {
    column c;
    c.data_ = data;
    c.size_ = n;
    c.keeper_ = std::move(keeper);
    return c;
  }
  // Whether the elements are a view of a mapping (rather than owned).
  bool is_view() const noexcept { return keeper_ != nullptr; }

  column(const column& other) : owned_(other.begin(), other.end()) { sync(); }
  column(column&& other) noexcept
      : owned_(std::move(other.owned_)),
        keeper_(std::move(other.keeper_)),
        data_(other.data_),
        size_(other.size_) {
    other.forget();
  }
  column& operator=(const column& other) {
    if (this != &other) assign(other.begin(), other.end());
    return *this;
  }
  column& operator=(column&& other) noexcept {
    if (this != &other) {
      owned_ = std::move(other.owned_);
      keeper_ = std::move(other.keeper_);
      data_ = other.data_;
      size_ = other.size_;
      other.forget();
    }
    return *this;
  }
  column& operator=(std::initializer_list<T> list) {
    assign(list.begin(), list.end());
    return *this;
  }

  size_type size() const noexcept { return size_; }
  bool empty() const noexcept { return size_ == 0; }
  T* data() noexcept { return data_; }
  const T* data() const noexcept { return data_; }
  T& operator[](size_type i) noexcept { return data_[i]; }
  const T& operator[](size_type i) const noexcept { return data_[i]; }
  iterator begin() noexcept { return data_; }
  iterator end() noexcept { return data_ + size_; }
  const_iterator begin() const noexcept { return data_; }
  const_iterator end() const noexcept { return data_ + size_; }
  const_iterator cbegin() const noexcept { return data_; }
  const_iterator cend() const noexcept { return data_ + size_; }
  T& front() noexcept { return data_[0]; }
  T& back() noexcept { return data_[size_ - 1]; }
  const T& front() const noexcept { return data_[0]; }
  const T& back() const noexcept { return data_[size_ - 1]; }

  // Size-changing calls: owned storage first. Values are taken by value, so that one read from the
  // column itself (push_back(c.back())) stays valid while a view becomes owned.
  void reserve(size_type n) {
    own();
    owned_.reserve(n);
    sync();
  }
  void resize(size_type n, T value = T()) {
    own();
    owned_.resize(n, value);
    sync();
  }
  void clear() noexcept {
    owned_.clear();
    keeper_.reset();
    sync();
  }
  // Resizes without writing the new elements (they are indeterminate until written): for a loader
  // that writes every element right after, from several threads (uninitialized_vector.hpp).
  void resize_for_overwrite(size_type n) {
    own();
    owned_.resize(n);
    sync();
  }
  void push_back(T value) {
    own();
    owned_.push_back(value);
    sync();
  }
  void assign(size_type n, T value) {
    owned_.assign(n, value);
    keeper_.reset();
    sync();
  }
  // Owned storage is reused (no allocation when it is large enough, as a vector's assign); a range
  // within this column's own storage is copied aside first.
  template <class It, class = typename std::iterator_traits<It>::iterator_category>
  void assign(It first, It last) {
    if (points_into_owned(first)) {
      storage fresh(first, last);
      owned_.swap(fresh);
    } else {
      owned_.assign(first, last);
    }
    keeper_.reset();
    sync();
  }
  iterator insert(const_iterator at, T value) { return insert(at, 1, value); }
  iterator insert(const_iterator at, size_type n, T value) {
    const auto index = at - data_;
    own();
    owned_.insert(owned_.begin() + index, n, value);
    sync();
    return data_ + index;
  }

  friend bool operator==(const column& a, const column& b) {
    return a.size_ == b.size_ && std::equal(a.begin(), a.end(), b.begin());
  }
  friend bool operator!=(const column& a, const column& b) { return !(a == b); }

 private:
  void sync() noexcept {
    data_ = owned_.data();
    size_ = owned_.size();
  }
  template <class It>
  bool points_into_owned(It it) const noexcept {
    if constexpr (std::is_pointer<It>::value) {
      const T* p = it;
      return !owned_.empty() && std::less_equal<const T*>()(owned_.data(), p) &&
             std::less<const T*>()(p, owned_.data() + owned_.size());
    } else {
      return false;
    }
  }
  void own() {
    if (!keeper_) return;
    owned_.assign(data_, data_ + size_);
    keeper_.reset();
    sync();
  }
  void forget() noexcept {
    owned_ = storage();
    keeper_.reset();
    data_ = nullptr;
    size_ = 0;
  }

  // Owned elements: a vector whose plain resize does not zero (resize_for_overwrite); every other
  // call fills as std::vector's does.
  using storage = uninitialized_vector<T>;
  storage owned_;                       // the elements, unless a view
  std::shared_ptr<const void> keeper_;  // a view's mapping; null when owned
  T* data_ = nullptr;                   // owned_.data() or the view's first element
  size_type size_ = 0;
};

}  // namespace msync
