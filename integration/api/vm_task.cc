#include "integration/api/vm_task.h"

namespace kvpc {

static_assert(is_valid_wait_timeout(kWaitInfinite));
static_assert(is_valid_wait_timeout(0) && is_valid_wait_timeout(kWaitMaxMs));
static_assert(!is_valid_wait_timeout(-2) && !is_valid_wait_timeout(kWaitMaxMs + 1));

std::string_view task_result_name(VMTaskResult result) {
  switch (result) {
    case vmTaskResult_Success: return "vmTaskResult_Success";
    case vmTaskResult_Cancelled: return "vmTaskResult_Cancelled";
    case vmTaskResult_UnexpectedError: return "vmTaskResult_UnexpectedError";
    case vmTaskResult_OutOfMemoryError: return "vmTaskResult_OutOfMemoryError";
    case vmTaskResult_DiskRelatedError: return "vmTaskResult_DiskRelatedError";
    case vmTaskResult_IncompatibleSavedStateError: return "vmTaskResult_IncompatibleSavedStateError";
    case vmTaskResult_TimeOutError: return "vmTaskResult_TimeOutError";
    case vmTaskResult_IllegalValueError: return "vmTaskResult_IllegalValueError";
    case vmTaskResult_ThreadCrashError: return "vmTaskResult_ThreadCrashError";
    case vmTaskResult_ShutdownAbort: return "vmTaskResult_ShutdownAbort";
  }
  return "";
}

}  // namespace kvpc
