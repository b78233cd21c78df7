# Dependencies of the AArch64 cross build that Debian ships for the host only.
#
# nlohmann/json is header-only but lives in the host's /usr/include. Adding
# /usr/include as an ordinary include directory would put the host's libc
# headers ahead of the cross sysroot's, so it is searched last (-idirafter):
# every header the sysroot has comes from the sysroot.
if (NOT TARGET nlohmann_json::nlohmann_json)
  add_library(nlohmann_json::nlohmann_json INTERFACE IMPORTED)
  set_target_properties(nlohmann_json::nlohmann_json PROPERTIES
    INTERFACE_COMPILE_OPTIONS "SHELL:-idirafter /usr/include")
endif ()

# zlib: the sysroot has no ARM zlib unless the arm64 zlib1g-dev is installed
# (multiarch). Without it the runtime reads uncompressed IDX files only and
# says so for gzip ones (runtime/src/idx.cpp).
find_package(ZLIB QUIET)

# GoogleTest: Debian's libgtest-dev ships its sources; they are built here
# with the cross compiler.
set(QF_GTEST_SOURCE_DIR /usr/src/googletest CACHE PATH "GoogleTest sources for the cross build")
