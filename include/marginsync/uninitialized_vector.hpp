#pragma once
// A std::vector whose resize leaves new elements of a trivial type uninitialized, for buffers that
// are written whole right after: the CSV loader's row scratch at 10 M rows is 200 MB, which
// std::vector would first zero on one thread (part of the load's serial time) before the threads
// write every element anyway. The standard library has no such vector before C++20's
// make_unique_for_overwrite (and that gives no vector); this is the usual allocator adaptor.
#include <memory>
#include <new>
#include <type_traits>
#include <utility>
#include <vector>

namespace msync {

template <class T, class A = std::allocator<T>>
class default_init_allocator : public A {
  using traits = std::allocator_traits<A>;

 public:
  template <class U>
  struct rebind {
    using other = default_init_allocator<U, typename traits::template rebind_alloc<U>>;
  };
  using A::A;

  // Value-initialisation (what resize(n) asks for) becomes default-initialisation: no zeroing.
  template <class U>
  void construct(U* at) noexcept(std::is_nothrow_default_constructible<U>::value) {
    ::new (static_cast<void*>(at)) U;
  }
  template <class U, class... Args>
  void construct(U* at, Args&&... args) {
    traits::construct(static_cast<A&>(*this), at, std::forward<Args>(args)...);
  }
};

template <class T>
using uninitialized_vector = std::vector<T, default_init_allocator<T>>;

}  // namespace msync
