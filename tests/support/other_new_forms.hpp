#pragma once
// The global new and delete forms besides `operator new(std::size_t)`, routed to it and to free:
// for a test executable that replaces `operator new(std::size_t)` (on malloc) to count or fail
// allocations. Every form goes to the same malloc and free, so that whichever pair a library uses
// (std::stable_sort's buffer takes the nothrow new) allocates and frees alike: with
// AddressSanitizer, a new of its own freed here would be reported as a mismatch.
//
// Definitions, not declarations: include it in exactly one file of such an executable, after that
// file defines `operator new(std::size_t)`.
#include <cstdlib>
#include <new>

void* operator new[](std::size_t size) {
  return ::operator new(size);
}
void* operator new(std::size_t size, const std::nothrow_t&) noexcept {
  try {
    return ::operator new(size);
  } catch (...) {
    return nullptr;
  }
}
void* operator new[](std::size_t size, const std::nothrow_t&) noexcept {
  return ::operator new(size, std::nothrow);
}
void operator delete(void* p) noexcept {
  std::free(p);
}
void operator delete(void* p, std::size_t) noexcept {
  std::free(p);
}
void operator delete[](void* p) noexcept {
  std::free(p);
}
void operator delete[](void* p, std::size_t) noexcept {
  std::free(p);
}
void operator delete(void* p, const std::nothrow_t&) noexcept {
  std::free(p);
}
void operator delete[](void* p, const std::nothrow_t&) noexcept {
  std::free(p);
}
