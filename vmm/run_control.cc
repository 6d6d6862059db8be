#include "vmm/run_control.h"

namespace kvpc {

const char* outcome_kind_name(MachineOutcome::Kind kind) {
  switch (kind) {
    case MachineOutcome::Kind::kPoweredOff: return "powered off";
    case MachineOutcome::Kind::kDebugExit: return "debug exit";
    case MachineOutcome::Kind::kStopped: return "stopped";
    case MachineOutcome::Kind::kReset: return "reset";
    case MachineOutcome::Kind::kTripleFault: return "triple fault";
    case MachineOutcome::Kind::kHalted: return "halted";
    case MachineOutcome::Kind::kGuestError: return "guest error";
    case MachineOutcome::Kind::kHostError: return "host error";
  }
  return "?";
}

void RunControl::update_attention_locked() {
  attention_.store(outcome_.has_value() || pause_requested_, std::memory_order_release);
}

void RunControl::finish(MachineOutcome outcome) {
  {
    std::lock_guard lock(mutex_);
    if (outcome_) return;
    outcome_ = std::move(outcome);
    update_attention_locked();
  }
  changed_.notify_all();
  if (kick_all_) kick_all_();
}

std::optional<MachineOutcome> RunControl::outcome() const {
  std::lock_guard lock(mutex_);
  return outcome_;
}

bool RunControl::finished() const {
  std::lock_guard lock(mutex_);
  return outcome_.has_value();
}

MachineOutcome RunControl::wait_finished() {
  std::unique_lock lock(mutex_);
  changed_.wait(lock, [&] { return outcome_.has_value(); });
  return *outcome_;
}

bool RunControl::pause() {
  {
    std::lock_guard lock(mutex_);
    if (outcome_) return false;
    pause_requested_ = true;
    update_attention_locked();
  }
  if (kick_all_) kick_all_();
  std::unique_lock lock(mutex_);
  changed_.wait(lock, [&] { return outcome_.has_value() || parked_ + exited_ >= vcpu_count_; });
  return !outcome_.has_value();
}

void RunControl::resume() {
  {
    std::lock_guard lock(mutex_);
    pause_requested_ = false;
    update_attention_locked();
  }
  changed_.notify_all();
}

bool RunControl::paused() const {
  std::lock_guard lock(mutex_);
  return pause_requested_ && !outcome_;
}

bool RunControl::vcpu_check_in() {
  std::unique_lock lock(mutex_);
  if (outcome_) return true;
  if (!pause_requested_) return false;
  ++parked_;
  changed_.notify_all();
  changed_.wait(lock, [&] { return outcome_.has_value() || !pause_requested_; });
  --parked_;
  return outcome_.has_value();
}

void RunControl::vcpu_exited() {
  {
    std::lock_guard lock(mutex_);
    ++exited_;
  }
  changed_.notify_all();
}

}  // namespace kvpc
