#pragma once
// A `marginsync serve` process for the server's tests: started on an ephemeral loopback port
// (--listen 127.0.0.1:0 --ready-file), talked to with cpp-httplib's client, stopped with a signal.
#include <fcntl.h>
#include <httplib.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "test_support.hpp"

extern char** environ;

namespace msync::test {

class serve_process {
 public:
  // Starts `marginsync serve ARGS --listen 127.0.0.1:0 --ready-file DIR/ready`, its standard
  // output and error in DIR/serve.log, and waits (up to 120 s) until it listens.
  serve_process(const std::filesystem::path& dir, std::vector<std::string> args) : dir_(dir) {
    std::filesystem::remove(dir / "ready");
    std::vector<std::string> argv = {MSYNC_CLI_PATH, "serve"};
    argv.insert(argv.end(), args.begin(), args.end());
    for (const char* a : {"--listen", "127.0.0.1:0", "--ready-file"}) argv.push_back(a);
    argv.push_back((dir / "ready").string());
    std::vector<char*> c_argv;
    for (std::string& a : argv) c_argv.push_back(a.data());
    c_argv.push_back(nullptr);
    posix_spawn_file_actions_t files;
    posix_spawn_file_actions_init(&files);
    const std::string log = (dir / "serve.log").string();
    posix_spawn_file_actions_addopen(&files, 1, log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    posix_spawn_file_actions_adddup2(&files, 1, 2);
    const int rc = posix_spawn(&pid_, c_argv[0], &files, nullptr, c_argv.data(), environ);
    posix_spawn_file_actions_destroy(&files);
    if (rc != 0) throw std::runtime_error("cannot start marginsync serve");
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
    while (!std::filesystem::exists(dir / "ready")) {
      int status = 0;
      if (waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        throw std::runtime_error("marginsync serve exited at start:\n" +
                                 read_file(dir / "serve.log"));
      }
      if (std::chrono::steady_clock::now() > deadline)
        throw std::runtime_error("marginsync serve did not listen:\n" +
                                 read_file(dir / "serve.log"));
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    std::string url = read_file(dir / "ready");
    while (!url.empty() && url.back() == '\n') url.pop_back();
    url_ = url;
    port_ = std::stoi(url.substr(url.rfind(':') + 1));
  }
  ~serve_process() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      int status = 0;
      waitpid(pid_, &status, 0);
    }
  }
  serve_process(const serve_process&) = delete;
  serve_process& operator=(const serve_process&) = delete;

  httplib::Client client(const std::string& token = "") const {
    httplib::Client c("127.0.0.1", port_);
    c.set_read_timeout(120, 0);
    if (!token.empty()) c.set_bearer_token_auth(token.c_str());
    return c;
  }
  const std::string& url() const { return url_; }
  std::string log() const { return read_file(dir_ / "serve.log"); }
  pid_t pid() const { return pid_; }

  // Sends `sig` and waits for the exit: the exit status, 128 + N for a signal N.
  int stop(int sig = SIGTERM) {
    ::kill(pid_, sig);
    int status = 0;
    waitpid(pid_, &status, 0);
    pid_ = -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  }

  // GET as JSON; fails the calling test (throws) on no answer.
  nlohmann::json get(const std::string& path, int expect_status = 200) const {
    auto c = client();
    auto res = c.Get(path.c_str());
    if (!res) throw std::runtime_error("no answer to GET " + path);
    if (res->status != expect_status)
      throw std::runtime_error("GET " + path + ": status " + std::to_string(res->status) + " " +
                               res->body);
    return nlohmann::json::parse(res->body);
  }

  // Waits (up to 300 s) until GET /v1/summary satisfies `done`.
  template <class Pred>
  nlohmann::json wait_summary(Pred done) const {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(300);
    for (;;) {
      nlohmann::json s = get("/v1/summary");
      if (done(s)) return s;
      if (std::chrono::steady_clock::now() > deadline)
        throw std::runtime_error("timed out waiting; last summary " + s.dump());
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  }

 private:
  std::filesystem::path dir_;
  pid_t pid_ = -1;
  int port_ = 0;
  std::string url_;
};

}  // namespace msync::test
