# cmake --install <build> [--prefix P] lays out:
#
#   P/include/qforge/*.h                      the runtime's public headers
#   P/<libdir>/libqforge.a                    the runtime (qforge::runtime)
#   P/<libdir>/libqf_*.a                      every AOT kernel library it links, and
#   P/<libdir>/libqf_cpu_variant_probe.runtime.a   the Halide runtime they share
#   P/<libdir>/cmake/qforge/                  the CMake package: find_package(qforge)
#   P/<libdir>/pkgconfig/qforge.pc            pkg-config --cflags --libs qforge
#   P/bin/qforge-train                        the QAT training driver
#   P/bin/qforge-gen                          the compiler front end (docs/qforge-gen.md)
#
# An app: find_package(qforge REQUIRED) and
# target_link_libraries(app PRIVATE qforge::runtime) (examples/classify).
include(CMakePackageConfigHelpers)

set(QFORGE_INSTALL_CMAKEDIR ${CMAKE_INSTALL_LIBDIR}/cmake/qforge)

install(DIRECTORY ${PROJECT_SOURCE_DIR}/runtime/include/qforge
        DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}
        FILES_MATCHING PATTERN "*.h")

# The kernels are static libraries made by add_halide_library; each links the
# Halide runtime that the owner library's generator emitted (<owner>.runtime).
set(QF_INSTALLED_CUDA)
if (QF_CUDA_KERNELS)
  set(QF_INSTALLED_CUDA ${QF_CUDA_KERNELS} ${QF_CUDA_HOST_KERNELS} ${QF_CUDA_RUNTIME_OWNER}.runtime)
endif ()
install(TARGETS qforge ${QF_KERNEL_LIBRARIES} ${QF_RUNTIME_OWNER}.runtime ${QF_INSTALLED_CUDA}
        EXPORT qforgeTargets
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
        INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(EXPORT qforgeTargets
        NAMESPACE qforge::
        DESTINATION ${QFORGE_INSTALL_CMAKEDIR})

configure_package_config_file(${CMAKE_CURRENT_LIST_DIR}/qforgeConfig.cmake.in
                              ${PROJECT_BINARY_DIR}/qforgeConfig.cmake
                              INSTALL_DESTINATION ${QFORGE_INSTALL_CMAKEDIR})
write_basic_package_version_file(${PROJECT_BINARY_DIR}/qforgeConfigVersion.cmake
                                 VERSION ${PROJECT_VERSION}
                                 COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/qforgeConfig.cmake ${PROJECT_BINARY_DIR}/qforgeConfigVersion.cmake
        DESTINATION ${QFORGE_INSTALL_CMAKEDIR})

# qforge.pc: relocatable (its prefix is found from the file's own directory,
# so cmake --install --prefix P works without reconfiguring). Static
# libraries only: the runtime first, then the kernels, then the shared Halide
# runtime and the system libraries they need.
file(RELATIVE_PATH QF_PC_PREFIX_FROM_PCDIR
     ${CMAKE_INSTALL_PREFIX}/${CMAKE_INSTALL_LIBDIR}/pkgconfig ${CMAKE_INSTALL_PREFIX})
string(REGEX REPLACE "/$" "" QF_PC_PREFIX_FROM_PCDIR "${QF_PC_PREFIX_FROM_PCDIR}")
set(QF_PC_LIBS "-lqforge")
foreach (lib IN LISTS QF_KERNEL_LIBRARIES)
  string(APPEND QF_PC_LIBS " -l${lib}")
endforeach ()
foreach (lib IN LISTS QF_INSTALLED_CUDA)
  string(APPEND QF_PC_LIBS " -l${lib}")
endforeach ()
string(APPEND QF_PC_LIBS " -l${QF_RUNTIME_OWNER}.runtime")
get_target_property(QF_PC_HALIDE_INCLUDES Halide::Runtime INTERFACE_INCLUDE_DIRECTORIES)
set(QF_PC_CFLAGS "-I\${includedir}")
foreach (dir IN LISTS QF_PC_HALIDE_INCLUDES)
  string(APPEND QF_PC_CFLAGS " -I${dir}")
endforeach ()
configure_file(${CMAKE_CURRENT_LIST_DIR}/qforge.pc.in ${PROJECT_BINARY_DIR}/qforge.pc @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/qforge.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
