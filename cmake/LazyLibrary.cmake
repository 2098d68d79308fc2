# sessionctl_lazy_library(): a C library opened with dlopen at first use.

# libpq and libmemcached are not linked but opened with dlopen when a
# PostgreSQL database or a memcached cache is first used: together they pull
# in some twenty libraries (Kerberos, LDAP, GnuTLS, SASL...) whose loading was
# most of the start-up time of every command (issue 6). Their headers are still
# used, through the INTERFACE target sessionctl_<name>_headers. The name passed
# to dlopen is the SONAME of the library pkg-config finds, read here, so a
# soname bump shows at configure time, with the Debian package that ships it
# for the error message when it is missing at run time.
#   sessionctl_lazy_library(<target> <name> <pkg-config prefix> <shim .cpp>)
# gives <target> the headers (PRIVATE) and defines SESSIONCTL_<NAME>_SONAME and
# SESSIONCTL_<NAME>_PACKAGE for <shim .cpp>, which passes them to
# SESSIONCTL_LAZY_API_DEFINE (backends/lazy_library.hpp says how a library's
# shim is written: its function list and two macro lines).
function(sessionctl_lazy_library target name prefix shim)
  string(TOUPPER ${name} upper)
  add_library(sessionctl_${name}_headers INTERFACE)
  target_include_directories(sessionctl_${name}_headers INTERFACE ${${prefix}_INCLUDE_DIRS})
  target_compile_options(sessionctl_${name}_headers INTERFACE ${${prefix}_CFLAGS_OTHER})
  target_link_libraries(${target} PRIVATE sessionctl_${name}_headers ${CMAKE_DL_LIBS})

  set(file "")
  foreach(candidate IN LISTS ${prefix}_LINK_LIBRARIES)
    get_filename_component(base ${candidate} NAME)
    if(base MATCHES "^${name}\\.so")
      set(file ${candidate})
    endif()
  endforeach()
  if(NOT file)
    message(FATAL_ERROR "${name}: pkg-config names no ${name}.so (${${prefix}_LINK_LIBRARIES}); "
                        "sessionctl opens it by its SONAME, which it reads from that file")
  endif()
  if(NOT CMAKE_OBJDUMP)
    find_program(CMAKE_OBJDUMP objdump REQUIRED)
  endif()
  execute_process(COMMAND ${CMAKE_OBJDUMP} -p ${file} OUTPUT_VARIABLE dump RESULT_VARIABLE rc ERROR_QUIET)
  if(NOT rc EQUAL 0 OR NOT dump MATCHES "SONAME +([^ \n]+)")
    message(FATAL_ERROR "${name}: cannot read the SONAME of ${file} with ${CMAKE_OBJDUMP} -p")
  endif()
  set(soname ${CMAKE_MATCH_1})

  # Which Debian package ships it (for "apt-get install ..."), if dpkg knows.
  set(package "")
  find_program(SESSIONCTL_DPKG_QUERY dpkg-query)
  if(SESSIONCTL_DPKG_QUERY)
    get_filename_component(real ${file} REALPATH)
    execute_process(COMMAND ${SESSIONCTL_DPKG_QUERY} -S ${real} OUTPUT_VARIABLE owner RESULT_VARIABLE rc ERROR_QUIET)
    # Some packages (liblzma5) ship their library under /lib, which merged-/usr
    # systems reach as /usr/lib: dpkg knows it by the /lib path.
    if(NOT rc EQUAL 0 AND real MATCHES "^/usr(/lib/.*)$")
      execute_process(COMMAND ${SESSIONCTL_DPKG_QUERY} -S ${CMAKE_MATCH_1} OUTPUT_VARIABLE owner RESULT_VARIABLE rc
                      ERROR_QUIET)
    endif()
    if(rc EQUAL 0 AND owner MATCHES "^([a-z0-9][a-z0-9.+-]+)(:[a-z0-9]+)?: ")
      set(package ${CMAKE_MATCH_1})
    endif()
  endif()
  message(STATUS "${name}: loaded at run time as ${soname} (${file}; Debian package: ${package})")

  set_property(SOURCE ${shim} TARGET_DIRECTORY ${target} APPEND PROPERTY COMPILE_DEFINITIONS
               "SESSIONCTL_${upper}_SONAME=\"${soname}\"" "SESSIONCTL_${upper}_PACKAGE=\"${package}\"")
endfunction()
