# The AArch64 build, driven from the host build.
#
# An ExternalProject configures this same source tree with
# cmake/aarch64-toolchain.cmake in <build>/arm: the host's qforge_gen (found
# through the export file add_halide_generator writes,
# <build>/cmake/qforge-halide_generators-config.cmake) generates every kernel
# library for arm-64-linux-arm_dot_prod and arm-64-linux; the runtime and the
# kernel test suites are compiled with aarch64-linux-gnu-g++. It is rebuilt
# with every host build (BUILD_ALWAYS: the inner build is incremental).
#
# Its tests (label arm, run under qemu-aarch64) join the host's ctest: the
# host's test file includes the ARM build's tests/ test file.
#
# QFORGE_ARM defaults to ON when the cross compiler and qemu are installed
# (scripts/setup-deps.sh installs both).
find_program(QF_AARCH64_CXX aarch64-linux-gnu-g++)
find_program(QF_QEMU_AARCH64 qemu-aarch64)
if (QF_AARCH64_CXX AND QF_QEMU_AARCH64)
  set(_qf_arm_default ON)
else ()
  set(_qf_arm_default OFF)
endif ()
option(QFORGE_ARM "Cross-build the kernels, runtime and kernel suites for AArch64 and test them under qemu"
       ${_qf_arm_default})
if (NOT QFORGE_ARM)
  message(STATUS "qforge: AArch64 build off (QFORGE_ARM=OFF, or aarch64-linux-gnu-g++ / qemu-aarch64 missing)")
  return()
endif ()
if (NOT QF_AARCH64_CXX OR NOT QF_QEMU_AARCH64)
  message(FATAL_ERROR "QFORGE_ARM=ON needs aarch64-linux-gnu-g++ and qemu-aarch64 "
                      "(Debian: g++-aarch64-linux-gnu qemu-user; scripts/setup-deps.sh installs them)")
endif ()

include(ExternalProject)
set(QF_ARM_BINARY_DIR ${CMAKE_BINARY_DIR}/arm)
set(_qf_arm_args
    -DCMAKE_TOOLCHAIN_FILE=${PROJECT_SOURCE_DIR}/cmake/aarch64-toolchain.cmake
    -DCMAKE_BUILD_TYPE=${CMAKE_BUILD_TYPE}
    -Dqforge-halide_generators_ROOT=${CMAKE_BINARY_DIR}
    # The cross build searches lib/aarch64-linux-gnu; Halide's CMake helpers
    # are the host's.
    -DHalideHelpers_DIR=${HalideHelpers_DIR}
    -DQFORGE_SANITIZE=OFF
    -DQFORGE_BUILD_BENCH=OFF
    # The same tuned schedule databases as the host build (cmake/QforgeTuned.cmake).
    -DQFORGE_TUNED_DIR=${QFORGE_TUNED_DIR})
if (CMAKE_CXX_COMPILER_LAUNCHER)
  list(APPEND _qf_arm_args -DCMAKE_CXX_COMPILER_LAUNCHER=${CMAKE_CXX_COMPILER_LAUNCHER}
                           -DCMAKE_C_COMPILER_LAUNCHER=${CMAKE_C_COMPILER_LAUNCHER})
endif ()
ExternalProject_Add(qforge_arm
  SOURCE_DIR ${PROJECT_SOURCE_DIR}
  BINARY_DIR ${QF_ARM_BINARY_DIR}
  CMAKE_ARGS ${_qf_arm_args}
  BUILD_ALWAYS ON
  INSTALL_COMMAND ""
  # The generator executable must exist (and be current) before the ARM
  # kernels are generated with it.
  DEPENDS qforge_gen)

# ctest includes the ARM tests (once the ARM build has configured its tests).
file(WRITE ${CMAKE_BINARY_DIR}/qforge_arm_tests.cmake
     "if (EXISTS \"${QF_ARM_BINARY_DIR}/tests/CTestTestfile.cmake\")\n"
     "  include(\"${QF_ARM_BINARY_DIR}/tests/CTestTestfile.cmake\")\n"
     "endif ()\n")
set_property(DIRECTORY ${PROJECT_SOURCE_DIR} APPEND PROPERTY TEST_INCLUDE_FILES
             ${CMAKE_BINARY_DIR}/qforge_arm_tests.cmake)
