// EventLoop: the one host-side thread that does everything slow for the VM.
//
// Control-socket requests, console input, device doorbells (eventfds), timers: each is a
// file descriptor with a callback. Devices on vCPU threads never do slow work themselves;
// they signal an eventfd and the event loop does it here.
//
// Concurrency contract: add_fd/remove_fd/post/add_timer may be called from any thread.
// Callbacks run on the loop thread only, one at a time, so state touched only by callbacks
// needs no lock. A callback may add or remove fds and timers (including its own).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "vmm/result.h"

namespace kvpc {

class EventLoop {
 public:
  using FdCallback = std::function<void(uint32_t epoll_events)>;
  using Task = std::function<void()>;
  using TimerId = uint64_t;

  EventLoop();
  ~EventLoop();
  EventLoop(const EventLoop&) = delete;
  EventLoop& operator=(const EventLoop&) = delete;

  Status init();

  // Watches fd for `events` (EPOLLIN...). The loop does not own fd.
  Status add_fd(int fd, uint32_t events, FdCallback callback);
  void remove_fd(int fd);
  // Changes the events watched for an fd already added.
  Status modify_fd(int fd, uint32_t events);

  // Runs task on the loop thread soon (FIFO).
  void post(Task task);

  // Runs task once after delay, or every `delay` when repeat is true. Returns an id for cancel.
  TimerId add_timer(std::chrono::milliseconds delay, bool repeat, Task task);
  void cancel_timer(TimerId id);

  // Runs the loop on the calling thread until stop().
  void run();
  // Runs the loop on a new thread.
  void start_thread();
  // Makes run() return; joins the loop thread if start_thread() made one. Safe to call twice.
  void stop();

  bool on_loop_thread() const { return std::this_thread::get_id() == loop_thread_id_; }

 private:
  struct Timer {
    std::chrono::steady_clock::time_point due;
    std::chrono::milliseconds period;
    bool repeat;
    Task task;
  };
  void wake();
  void run_posted();
  void run_due_timers();
  int next_timeout_ms();

  int epoll_fd_ = -1;
  int wake_fd_ = -1;
  std::mutex mutex_;  // guards callbacks_, posted_, timers_, next_timer_id_
  std::map<int, std::shared_ptr<FdCallback>> callbacks_;
  std::vector<Task> posted_;
  std::map<TimerId, Timer> timers_;
  TimerId next_timer_id_ = 1;
  bool stopping_ = false;
  std::thread thread_;
  std::thread::id loop_thread_id_;
};

}  // namespace kvpc
