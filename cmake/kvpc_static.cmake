# The static kvpc (KVPC_STATIC_KVPC, top-level CMakeLists.txt).
#
# KVPC_LINK_KVPC_STATIC: whether tools/kvpc is linked with -static in this build. Off for the
# sanitizer and fuzz builds (ASan/UBSan runtimes are shared objects), without the lean runtime
# (then libstdc++, fmt and spdlog are shared too), and when an archive it needs is missing.
#
# KVPC_UNLESS_STATIC: a condition for the libraries' links to shared objects (fmt::fmt,
# spdlog::spdlog, ZLIB::ZLIB, libseccomp, PNG::PNG): true except when the executable being
# linked is the static kvpc (it sets the target property KVPC_STATIC_EXECUTABLE), which takes
# the same code from archives (tools/CMakeLists.txt) instead. A linker refuses a .so in a
# -static link, so the .so files must not appear on its command line at all. Compiling a
# library still sees the targets (their include directories and definitions).
set(KVPC_UNLESS_STATIC "$<NOT:$<BOOL:$<TARGET_PROPERTY:KVPC_STATIC_EXECUTABLE>>>")
#
# KVPC_IF_STATIC: the opposite, for the archives that replace those shared objects. Each library
# names the archives it needs itself, so they follow it on the static kvpc's link line: GNU ld
# (the default linker, CI's) takes from an archive only what the objects before it need, so
# archives listed on kvpc's own line, ahead of the kvpc_* libraries, would resolve nothing.
set(KVPC_IF_STATIC "$<BOOL:$<TARGET_PROPERTY:KVPC_STATIC_EXECUTABLE>>")

set(KVPC_LINK_KVPC_STATIC ${KVPC_STATIC_KVPC})
if(KVPC_LINK_KVPC_STATIC AND (KVPC_SANITIZE OR KVPC_FUZZ OR NOT KVPC_LEAN_RUNTIME))
  message(STATUS "kvpc: KVPC_STATIC_KVPC is off for this build (sanitizers, fuzzing, or KVPC_LEAN_RUNTIME=OFF)")
  set(KVPC_LINK_KVPC_STATIC OFF)
endif()
if(KVPC_LINK_KVPC_STATIC)
  foreach(archive c m z png16 seccomp)
    find_library(KVPC_STATIC_ARCHIVE_${archive} NAMES lib${archive}.a)
    if(NOT KVPC_STATIC_ARCHIVE_${archive})
      message(STATUS "kvpc: lib${archive}.a is missing: kvpc is linked dynamically (KVPC_STATIC_KVPC off)")
      set(KVPC_LINK_KVPC_STATIC OFF)
    endif()
  endforeach()
endif()
