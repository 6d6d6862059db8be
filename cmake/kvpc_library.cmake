# kvpc_glob_library(<target> <dir-glob>... DEPS <libs>...)
# A static library made of every .cc matching the globs. Areas grow file by file without
# anyone editing a shared list; an area with no sources yet still yields a (empty) target.
function(kvpc_glob_library target)
  cmake_parse_arguments(ARG "" "" "GLOBS;DEPS" ${ARGN})
  file(GLOB sources CONFIGURE_DEPENDS ${ARG_GLOBS})
  if(NOT sources)
    set(anchor ${CMAKE_CURRENT_BINARY_DIR}/${target}_anchor.cc)
    file(WRITE ${anchor} "// ${target} has no sources yet.\n")
    set(sources ${anchor})
  endif()
  add_library(${target} STATIC ${sources})
  target_link_libraries(${target} PUBLIC ${ARG_DEPS})
endfunction()
