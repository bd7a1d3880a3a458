#include "io/signal_cleanup.hpp"

#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <climits>
#include <cstring>

namespace msync {

namespace {

// A fixed registry the handler can walk without allocating or locking. A slot is claimed (1),
// filled, then published (2, or 3 for a directory); the handler only reads published slots.
// Files are removed before directories, in registration order.
constexpr int slots = 256;
struct slot {
  std::atomic<int> state{0};
  char path[PATH_MAX];
};
slot registry[slots];

extern "C" void remove_and_reraise(int sig) {
  for (int pass = 2; pass <= 3; ++pass)
    for (slot& s : registry)
      if (s.state.load(std::memory_order_acquire) == pass)
        pass == 2 ? (void)::unlink(s.path) : (void)::rmdir(s.path);
  ::signal(sig, SIG_DFL);
  ::raise(sig);
}

}  // namespace

void install_signal_cleanup() {
  struct sigaction action {};
  action.sa_handler = remove_and_reraise;
  sigemptyset(&action.sa_mask);
  action.sa_flags = SA_RESETHAND;
  for (int sig : {SIGINT, SIGTERM, SIGHUP}) {
    struct sigaction old {};
    // A signal the caller ignores (nohup, a background job) stays ignored.
    if (::sigaction(sig, nullptr, &old) == 0 && old.sa_handler == SIG_IGN) continue;
    ::sigaction(sig, &action, nullptr);
  }
}

removed_on_signal::removed_on_signal(const std::string& path, bool directory) {
  if (path.size() >= PATH_MAX) return;
  for (int i = 0; i < slots; ++i) {
    int expected = 0;
    if (registry[i].state.compare_exchange_strong(expected, 1)) {
      std::memcpy(registry[i].path, path.c_str(), path.size() + 1);
      registry[i].state.store(directory ? 3 : 2, std::memory_order_release);
      slot_ = i;
      return;
    }
  }
}

removed_on_signal::~removed_on_signal() {
  if (slot_ >= 0) registry[slot_].state.store(0, std::memory_order_release);
}

}  // namespace msync
