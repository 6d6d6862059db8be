// IVMTask: Virtual PC's handle on a long-running operation, member for member in the SDK's
// vtable order (IUnknown/IDispatch left out). Every getter answers E_POINTER for a NULL out
// pointer and S_OK otherwise; ownership is std::shared_ptr<IVMTask> instead of AddRef/Release.
//
// Concurrency contract: every member of every implementation is safe from any thread, and
// WaitForCompletion may block one thread while another completes the task.
#pragma once

#include <string>
#include <string_view>

#include "integration/api/vm_types.h"
#include "integration/hresult.h"

namespace kvpc {

class IVMTask {
 public:
  virtual ~IVMTask() = default;

  // Waits until the task completes or `timeoutMs` passes (-1 = no limit, else 0..4,000,000;
  // anything else is E_INVALIDARG). Returns S_OK either way: check IsComplete.
  virtual HRESULT WaitForCompletion(long timeoutMs) = 0;
  // S_OK when the task was cancelled, E_FAIL when it cannot be (see IsCancelable).
  virtual HRESULT Cancel() = 0;
  virtual HRESULT get_PercentCompleted(long* percentCompleted) = 0;
  virtual HRESULT get_Description(std::string* description) = 0;
  // Meaningful once IsComplete; vmTaskResult_Success before that.
  virtual HRESULT get_Result(VMTaskResult* result) = 0;
  virtual HRESULT get_IsCancelable(bool* isCancelable) = 0;
  // The SDK's numeric ID: unique among the tasks of this kvpc process.
  virtual HRESULT get_ID(long* id) = 0;
  // The same ID as text, "<vm name>/<number>", for logs that mix VMs.
  virtual HRESULT get_ID(std::string* id) = 0;
  virtual HRESULT get_IsComplete(bool* isComplete) = 0;
  // The outcome as an HRESULT (S_OK while running and on success).
  virtual HRESULT get_Error(long* error) = 0;
  // A sentence plus "NAME (0x........)"; empty while running and on success.
  virtual HRESULT get_ErrorDescription(std::string* errorDescription) = 0;
};

// WaitForCompletion's accepted range.
inline constexpr long kWaitInfinite = -1;
inline constexpr long kWaitMaxMs = 4'000'000;
constexpr bool is_valid_wait_timeout(long timeout_ms) {
  return timeout_ms == kWaitInfinite || (timeout_ms >= 0 && timeout_ms <= kWaitMaxMs);
}

// "vmTaskResult_TimeOutError", for logs; "" for a value outside the enumeration.
std::string_view task_result_name(VMTaskResult result);

}  // namespace kvpc
