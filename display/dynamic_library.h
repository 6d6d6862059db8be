#ifndef KVPC_DISPLAY_DYNAMIC_LIBRARY_H_
#define KVPC_DISPLAY_DYNAMIC_LIBRARY_H_

// A shared library opened at run time, its functions resolved into typed slots. The display's
// optional libraries (libSDL2, libpng) are loaded this way only when a window opens or a PNG is
// made, so a headless VM never maps them (docs/performance.md, section 4). Handles stay open for
// the life of the process: the tables of resolved functions point into them.
#include <string>

#include "vmm/result.h"

namespace kvpc {

class DynamicLibrary {
 public:
  // dlopen(soname, RTLD_NOW | RTLD_LOCAL), or an error that names the library and dlerror().
  static Result<DynamicLibrary> open(const char* soname);

  // Resolves `name` into `slot`. On failure returns false and, if `error` is still empty,
  // records "<soname> has no <name>" there, so a chain of resolves reports the first missing one.
  template <typename Function>
  bool resolve(const char* name, Function& slot, std::string& error) const {
    void* symbol = find(name);
    if (symbol == nullptr) {
      if (error.empty()) error = std::string(soname_) + " has no " + name;
      return false;
    }
    slot = reinterpret_cast<Function>(symbol);
    return true;
  }

 private:
  DynamicLibrary(void* handle, const char* soname) : handle_(handle), soname_(soname) {}
  void* find(const char* name) const;

  void* handle_;
  const char* soname_;
};

}  // namespace kvpc

#endif  // KVPC_DISPLAY_DYNAMIC_LIBRARY_H_
