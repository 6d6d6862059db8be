// The JSON shapes of integration results, shared by the control socket and the CLI.
// Field names are stable (scripts depend on them): see docs/control-socket.md.
#pragma once

#include <nlohmann/json.hpp>

#include "integration/api/vm_guest_os.h"
#include "integration/api/vm_task.h"
#include "integration/api/vm_types.h"

namespace kvpc {

// Adds "hresult" ("0x80070520") and "hresult_name" to `object`.
void add_hresult(nlohmann::json& object, HRESULT value);
// {"id", "is_complete", "result", "result_name", "percent_completed", "error", "error_name",
//  "error_description", "description"}
nlohmann::json task_json(IVMTask& task);
// {"OSName": {"value": "...", "hresult": "0x00000000", "hresult_name": "S_OK"}, ...} for every property.
nlohmann::json guest_properties_json(IVMGuestOS& guest);
const char* vm_state_name(VMVMState state);
const char* logoff_type_name(VMLogoffType type);

}  // namespace kvpc
