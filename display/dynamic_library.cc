#include "display/dynamic_library.h"

#include <dlfcn.h>

#include <fmt/format.h>

namespace kvpc {

Result<DynamicLibrary> DynamicLibrary::open(const char* soname) {
  void* handle = dlopen(soname, RTLD_NOW | RTLD_LOCAL);
  if (handle == nullptr) {
    const char* why = dlerror();
    return make_error(fmt::format("cannot load {}: {}", soname, why != nullptr ? why : "unknown error"));
  }
  return DynamicLibrary(handle, soname);
}

void* DynamicLibrary::find(const char* name) const { return dlsym(handle_, name); }

}  // namespace kvpc
