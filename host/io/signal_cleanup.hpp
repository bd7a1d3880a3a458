#pragma once
// What a run removes when SIGINT, SIGTERM or SIGHUP ends it (docs/design.md 5.1): the temporary
// files of outputs being written and the private directories it staged into. The handler unlinks
// them (unlink and rmdir are async-signal-safe) and then ends the process by the same signal, so
// that the shell sees 128 + N and no temporary is left behind. `stream` installs its own handlers,
// which stop the stream gracefully instead.
#include <string>

namespace msync {

// Installs the handlers; called once by main before any command runs.
void install_signal_cleanup();

// A path removed if a signal ends the process while this object lives (a file is unlinked, a
// directory rmdir'ed: list a directory's files before it, they go first). Its destructor only
// forgets the path; removing it in the ordinary way stays the owner's job.
class removed_on_signal {
 public:
  explicit removed_on_signal(const std::string& path, bool directory = false);
  removed_on_signal(const removed_on_signal&) = delete;
  removed_on_signal& operator=(const removed_on_signal&) = delete;
  ~removed_on_signal();

 private:
  int slot_ = -1;  // -1: the registry was full; the path is then not removed on a signal
};

}  // namespace msync
