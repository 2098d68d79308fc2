# How sessionctl is installed (`cmake --install`) and packaged (CPack, a .deb).
#
#   bin/sessionctl                                     (cli/CMakeLists.txt)
#   share/man/man1/sessionctl.1[.gz]                   rendered from docs/sessionctl.1.scd by scdoc
#   share/bash-completion/completions/sessionctl       completions/sessionctl.bash
#   share/zsh/vendor-completions/_sessionctl           completions/_sessionctl
#   share/fish/vendor_completions.d/sessionctl.fish    completions/sessionctl.fish
#   share/doc/sessionctl/{README.md,CHANGELOG.md}
#   share/doc/sessionctl/examples/                     packaging/examples/: cron line,
#                                                      systemd service + timer, config
#
# Options:
#   SESSIONCTL_MANPAGE  AUTO (default: the man page is built and installed when
#                       scdoc is found), ON (scdoc required: scripts/package.sh),
#                       OFF.
#   SESSIONCTL_MANPAGE_GZIP  install sessionctl.1.gz, as Debian policy wants in a
#                       package (scripts/package.sh); plain sessionctl.1 otherwise.
include(GNUInstallDirs)

set(SESSIONCTL_MANPAGE AUTO CACHE STRING "Build the man page with scdoc: AUTO, ON or OFF")
set_property(CACHE SESSIONCTL_MANPAGE PROPERTY STRINGS AUTO ON OFF)
option(SESSIONCTL_MANPAGE_GZIP "Install the man page gzip-compressed" OFF)

# --- man page: docs/sessionctl.1.scd -> <build>/docs/sessionctl.1 -----------------
set(SESSIONCTL_MANPAGE_BUILT OFF)
if(NOT SESSIONCTL_MANPAGE STREQUAL "OFF")
  find_program(SCDOC_EXECUTABLE scdoc)
  if(SCDOC_EXECUTABLE)
    set(scd ${PROJECT_SOURCE_DIR}/docs/sessionctl.1.scd)
    set(man ${PROJECT_BINARY_DIR}/docs/sessionctl.1)
    add_custom_command(
      OUTPUT ${man}
      COMMAND ${CMAKE_COMMAND} -E make_directory ${PROJECT_BINARY_DIR}/docs
      COMMAND ${SCDOC_EXECUTABLE} < ${scd} > ${man}
      DEPENDS ${scd}
      COMMENT "Rendering sessionctl(1) with scdoc"
      VERBATIM)
    set(man_outputs ${man})
    if(SESSIONCTL_MANPAGE_GZIP)
      find_program(GZIP_EXECUTABLE gzip REQUIRED)
      add_custom_command(
        OUTPUT ${man}.gz
        # -n: no name or time stamp, so the package is reproducible.
        COMMAND ${GZIP_EXECUTABLE} -9 -n -c ${man} > ${man}.gz
        DEPENDS ${man}
        VERBATIM)
      list(APPEND man_outputs ${man}.gz)
      set(man ${man}.gz)
    endif()
    add_custom_target(manpage ALL DEPENDS ${man_outputs})
    install(FILES ${man} DESTINATION ${CMAKE_INSTALL_MANDIR}/man1)
    set(SESSIONCTL_MANPAGE_BUILT ON)
  elseif(SESSIONCTL_MANPAGE STREQUAL "ON")
    message(FATAL_ERROR "SESSIONCTL_MANPAGE=ON but scdoc is missing (apt-get install scdoc)")
  else()
    message(STATUS "scdoc not found: the man page is not built (apt-get install scdoc)")
  endif()
endif()

# --- completions, documents, examples ------------------------------------------
install(FILES ${PROJECT_SOURCE_DIR}/completions/sessionctl.bash
        DESTINATION ${CMAKE_INSTALL_DATADIR}/bash-completion/completions RENAME sessionctl)
install(FILES ${PROJECT_SOURCE_DIR}/completions/_sessionctl
        DESTINATION ${CMAKE_INSTALL_DATADIR}/zsh/vendor-completions)
install(FILES ${PROJECT_SOURCE_DIR}/completions/sessionctl.fish
        DESTINATION ${CMAKE_INSTALL_DATADIR}/fish/vendor_completions.d)
install(FILES ${PROJECT_SOURCE_DIR}/README.md ${PROJECT_SOURCE_DIR}/CHANGELOG.md
        DESTINATION ${CMAKE_INSTALL_DOCDIR})
install(FILES ${PROJECT_SOURCE_DIR}/packaging/examples/sessionctl.cron
              ${PROJECT_SOURCE_DIR}/packaging/examples/sessionctl-clearsessions.service
              ${PROJECT_SOURCE_DIR}/packaging/examples/sessionctl-clearsessions.timer
              ${PROJECT_SOURCE_DIR}/packaging/examples/config.json
        DESTINATION ${CMAKE_INSTALL_DOCDIR}/examples)

# --- CPack: a Debian package -----------------------------------------------------
# scripts/package.sh runs `cpack -G DEB` in its own build directory and prints
# the path of sessionctl_<version>_<arch>.deb.
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME sessionctl)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_VENDOR "sessionctl maintainers")
set(CPACK_PACKAGE_CONTACT "sessionctl maintainers <maintainers@users.noreply.r-seed-3d3df7e7.example>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "administer Django session stores from the command line")
set(CPACK_PACKAGE_DESCRIPTION
    "sessionctl lists, decodes, creates, expires and deletes Django sessions, and
clears expired ones from cron, without Python: byte-compatible with Django 3.2
and later, and safe to run beside a live site (short paced transactions,
conditional deletes). It reads the site's settings (a JSON file of Django's
own setting names) and works on the db engine (SQLite, PostgreSQL), the file
engine, the cache engine (Redis, memcached), cached_db and signed_cookies.")
set(CPACK_STRIP_FILES ON)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)  # sessionctl_<version>_<arch>.deb
set(CPACK_DEBIAN_PACKAGE_SECTION utils)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
# Depends: computed by dpkg-shlibdeps (package dpkg-dev) from what the binary links.
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
# libpq and libmemcached are opened with dlopen only when a PostgreSQL database
# or a memcached cache is used, liblz4, liblzma and libzstd only for django-redis's
# compressors (cmake/LazyLibrary.cmake), so shlibdeps cannot see them; without
# them those stores exit 3 naming the package.
set(CPACK_DEBIAN_PACKAGE_RECOMMENDS "libpq5, libmemcached11, liblz4-1, liblzma5, libzstd1")
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
include(CPack)
