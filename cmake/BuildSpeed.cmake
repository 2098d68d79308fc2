# Build time of the sessionctl binary (issue 20: ≤ 2 minutes from clean on 2 cores).
#
# Unity builds (SESSIONCTL_UNITY, default ON): the libraries the binary links
# compile their sources up to eight to a translation unit, so the headers they
# share are parsed and their inline templates compiled once per batch instead
# of once per file. That is where most of the binary's compile time went: CLI11
# (Debian 12 ships 2.1.2, header-only, before its compiled mode, so every file
# including it parsed it and compiled its validators again), nlohmann/json
# (reached through core/config.hpp by 30 files) and fmt.
#
# Clean `cmake --build --target sessionctl` on the 2-core VM (load 2-3; wall /
# CPU seconds): RelWithDebInfo file by file 234 / 460 (before); Release file by
# file 189 / 373; RelWithDebInfo unity 142 / 265; Release unity 95 / 175
# (scripts/demo.sh and scripts/package.sh). Precompiled headers (CLI11, json,
# fmt on cli; fmt and std on core) on top of unity: 110 / 204, dropped; alone,
# on the command files under load: 1% less CPU, dropped.
#
# Files compiled together must not define the same name at namespace scope
# (anonymous namespaces included; 5dae8eb is an example). A library whose
# sources cannot can be left out: SESSIONCTL_UNITY_EXCLUDE. The test programs
# are always built file by file.
option(SESSIONCTL_UNITY "Compile the binary's libraries as unity builds (faster clean builds)" ON)
set(SESSIONCTL_UNITY_EXCLUDE "" CACHE STRING
    "Libraries of the binary built file by file even with SESSIONCTL_UNITY")

# Every non-imported library <target> links, directly or not.
function(sessionctl_linked_libraries target out)
  set(seen "")
  set(queue ${target})
  while(queue)
    list(POP_FRONT queue t)
    get_target_property(libs ${t} LINK_LIBRARIES)
    get_target_property(ilibs ${t} INTERFACE_LINK_LIBRARIES)
    foreach(lib IN LISTS libs ilibs)
      if(TARGET ${lib} AND NOT lib IN_LIST seen)
        get_target_property(imported ${lib} IMPORTED)
        get_target_property(type ${lib} TYPE)
        if(NOT imported AND type MATCHES "STATIC_LIBRARY|OBJECT_LIBRARY|INTERFACE_LIBRARY")
          list(APPEND seen ${lib})
          list(APPEND queue ${lib})
        endif()
      endif()
    endforeach()
  endwhile()
  set(${out} ${seen} PARENT_SCOPE)
endfunction()

function(sessionctl_unity_build target)
  if(NOT SESSIONCTL_UNITY)
    return()
  endif()
  sessionctl_linked_libraries(${target} libs)
  set(unity "")
  foreach(lib IN LISTS libs)
    get_target_property(type ${lib} TYPE)
    if(NOT type STREQUAL "INTERFACE_LIBRARY" AND NOT lib IN_LIST SESSIONCTL_UNITY_EXCLUDE)
      set_target_properties(${lib} PROPERTIES UNITY_BUILD ON UNITY_BUILD_BATCH_SIZE 8)
      if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
        # A .cpp included by the unity file counts as a header for GCC, which then
        # warns about its classes that hold anonymous-namespace types.
        target_compile_options(${lib} PRIVATE -Wno-subobject-linkage)
      endif()
      list(APPEND unity ${lib})
    endif()
  endforeach()
  list(JOIN unity " " unity)
  message(STATUS "Unity builds (SESSIONCTL_UNITY): ${unity}")
endfunction()
