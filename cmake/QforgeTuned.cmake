# Tuned kernels: the tuned schedule database (QFORGE_TUNED_DIR/<target>.json,
# written by qforge-tune) becomes extra kernel libraries and the table the
# runtime consults at each call (runtime/src/tuned_kernels.h).
#
# For each target of this build with a database, each entry (operator, shape
# class, params) is matched against the slots of cmake/kernels*.cmake
# (qforge_kernel(... TUNING <operator> CLASSES <class>...)). Each matching slot
# gets a library <slot>__<class>__<variant> built for that target only, from
# the slot's generator, features and params with the entry's params
# substituted, and a row in ${CMAKE_BINARY_DIR}/runtime/tuned_kernel_table.cpp
# (QF_TUNED_KERNEL_TABLE). The runtime uses it when the dispatcher picked that
# target's variant and the call's shape is in the class.
# Included after kernels.cmake (the slots) and before runtime/ (the table).
include(QforgeTunedDb)

set(_qf_tuned_default_dir "${PROJECT_SOURCE_DIR}/schedules/tuned")
set(QFORGE_TUNED_DIR "${_qf_tuned_default_dir}" CACHE PATH
    "Tuned schedule databases (<target>.json from qforge-tune); empty: schedules/tuned of the source tree")
if (QFORGE_TUNED_DIR STREQUAL "")
  set(QFORGE_TUNED_DIR "${_qf_tuned_default_dir}" CACHE PATH
      "Tuned schedule databases (<target>.json from qforge-tune); empty: schedules/tuned of the source tree" FORCE)
endif ()

set(QF_TUNED_KERNEL_TABLE ${CMAKE_BINARY_DIR}/runtime/tuned_kernel_table.cpp)

function(_qforge_tuned_kernels)
  # Each kernel target's CPU variant: name and CpuVariant value (runtime/include/qforge/dispatch.h).
  set(variants "${QF_X86_AVX512_VNNI}|avx512_vnni|3" "${QF_X86_AVX2}|avx2|2" "${QF_X86_SSE41}|sse41|1"
               "${QF_X86_BASELINE}|baseline|0" "${QF_ARM_DOT_PROD}|arm_dot_prod|4" "${QF_ARM_BASELINE}|baseline|0")
  # Parameters that choose a slot's output kind, not its schedule: one entry
  # applies to every kind's slot, so it must not set them.
  set(kind_params requant_type)

  get_property(slots GLOBAL PROPERTY QF_TUNING_SLOTS)
  set(libraries ${QF_KERNEL_LIBRARIES})
  set(sources)   # database files read
  set(includes)  # the tuned libraries' headers
  set(rows)      # table rows

  if (IS_DIRECTORY "${QFORGE_TUNED_DIR}")
    # A database added (or removed) later reconfigures too.
    set_property(DIRECTORY ${PROJECT_SOURCE_DIR} APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS "${QFORGE_TUNED_DIR}")
  endif ()
  foreach (target IN LISTS QF_KERNEL_TARGETS)
    set(file "${QFORGE_TUNED_DIR}/${target}.json")
    if (NOT EXISTS "${file}")
      continue ()
    endif ()
    set_property(DIRECTORY ${PROJECT_SOURCE_DIR} APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS "${file}")
    list(APPEND sources "${file}")
    set(variant)
    foreach (v IN LISTS variants)
      string(REPLACE "|" ";" v "${v}")
      list(GET v 0 v_target)
      if (v_target STREQUAL target)
        list(GET v 1 variant)
        list(GET v 2 variant_code)
        break ()
      endif ()
    endforeach ()
    if (variant STREQUAL "")
      message(FATAL_ERROR "cmake/QforgeTuned.cmake: no CPU variant known for kernel target ${target}")
    endif ()

    qforge_read_tuned_db("${file}" "${target}" db)
    set(where "tuned schedule database '${file}'")
    set(built 0)
    if (db_COUNT GREATER 0)
      math(EXPR last "${db_COUNT} - 1")
      foreach (i RANGE ${last})
        set(op "${db_${i}_OPERATOR}")
        set(cls "${db_${i}_CLASS}")
        set(entry_params "${db_${i}_PARAMS}")
        if (entry_params STREQUAL "")
          # The tuner kept the default schedule (nothing beat it): nothing to build.
          continue ()
        endif ()
        set(op_known FALSE)
        set(used FALSE)
        foreach (slot IN LISTS slots)
          get_property(slot_op GLOBAL PROPERTY QF_SLOT_${slot}_OPERATOR)
          if (NOT slot_op STREQUAL op)
            continue ()
          endif ()
          set(op_known TRUE)
          get_property(slot_classes GLOBAL PROPERTY QF_SLOT_${slot}_CLASSES)
          if (NOT cls IN_LIST slot_classes)
            continue ()
          endif ()
          set(used TRUE)
          get_property(gen GLOBAL PROPERTY QF_SLOT_${slot}_GENERATOR)
          get_property(features GLOBAL PROPERTY QF_SLOT_${slot}_FEATURES)
          get_property(params GLOBAL PROPERTY QF_SLOT_${slot}_PARAMS)
          # The slot's params with the entry's substituted (in place) or added.
          foreach (kv IN LISTS entry_params)
            string(REGEX MATCH "^[^=]*" key "${kv}")
            if (key IN_LIST kind_params)
              message(FATAL_ERROR "${where}: entries[${i}].params.${key} chooses the output kind, "
                                  "not the schedule (the entry applies to every kind's slot)")
            endif ()
            set(replaced FALSE)
            set(merged)
            foreach (p IN LISTS params)
              if (p MATCHES "^${key}=")
                set(p "${kv}")
                set(replaced TRUE)
              endif ()
              list(APPEND merged "${p}")
            endforeach ()
            if (NOT replaced)
              list(APPEND merged "${kv}")
            endif ()
            set(params ${merged})
          endforeach ()
          set(tile_m 0)
          foreach (p IN LISTS params)
            if (p MATCHES "^tile_m=(-?[0-9]+)$")
              set(tile_m ${CMAKE_MATCH_1})
            endif ()
          endforeach ()

          set(lib ${slot}__${cls}__${variant})
          set(extra)
          if (params)
            set(extra PARAMS ${params})
          endif ()
          add_halide_library(${lib} FROM qforge_gen
                             GENERATOR ${gen}
                             TARGETS ${target}
                             FEATURES no_bounds_query ${features}
                             USE_RUNTIME ${QF_RUNTIME_OWNER}.runtime
                             ${extra})
          list(APPEND libraries ${lib})
          list(APPEND includes "#include \"${lib}.h\"")
          list(JOIN entry_params " " params_text)
          list(APPEND rows "    {\"${slot}\", \"${cls}\", ${variant_code}, reinterpret_cast<void *>(&${lib}), ${tile_m}, \"${params_text}\"},")
          math(EXPR built "${built} + 1")
        endforeach ()
        if (NOT op_known)
          message(STATUS "qforge: ${where}: entries[${i}] (operator ${op}) is not used by this build "
                         "(no kernel slot for it; qforge-gen can still use it)")
        elseif (NOT used)
          message(STATUS "qforge: ${where}: entries[${i}] (operator ${op}, shape_class ${cls}) is not used "
                         "by this build (no slot of ${op} has that class; qforge-gen can still use it)")
        endif ()
      endforeach ()
    endif ()
    message(STATUS "qforge: ${where}: ${db_COUNT} entries, ${built} tuned kernel libraries")
  endforeach ()

  # The table. Written only when it changes: an unchanged database rebuilds nothing.
  if (sources)
    list(JOIN sources "\n//   " from)
    set(text "// Generated by cmake/QforgeTuned.cmake from\n//   ${from}\n// Do not edit.\n")
  else ()
    string(CONCAT text "// Generated by cmake/QforgeTuned.cmake: no tuned schedule database for this build's\n"
                       "// targets in ${QFORGE_TUNED_DIR}. Do not edit.\n")
  endif ()
  string(APPEND text "#include \"tuned_kernels.h\"\n\n")
  if (includes)
    list(JOIN includes "\n" includes)
    string(APPEND text "${includes}\n\n")
  endif ()
  string(APPEND text "namespace qforge::detail {\n\nconst TunedKernel kTunedKernels[] = {\n")
  if (rows)
    list(JOIN rows "\n" rows)
    string(APPEND text "${rows}\n")
  endif ()
  string(APPEND text "    {nullptr, nullptr, 0, nullptr, 0, nullptr},\n};\n\n}  // namespace qforge::detail\n")
  set(old "")
  if (EXISTS "${QF_TUNED_KERNEL_TABLE}")
    file(READ "${QF_TUNED_KERNEL_TABLE}" old)
  endif ()
  if (NOT old STREQUAL text)
    file(WRITE "${QF_TUNED_KERNEL_TABLE}" "${text}")
  endif ()

  set(QF_KERNEL_LIBRARIES ${libraries} PARENT_SCOPE)
endfunction()

_qforge_tuned_kernels()
