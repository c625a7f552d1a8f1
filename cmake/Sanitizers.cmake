# ENABLE_ASAN / ENABLE_UBSAN add compile and link flags to every target (libuv's pattern).
# ENABLE_FUZZ instruments every target for libFuzzer with ASan and UBSan; the
# fuzz targets (tests/fuzz) add -fsanitize=fuzzer when they link.
set(PDSIM_SAN_FLAGS "")
if(ENABLE_FUZZ)
  if(NOT CMAKE_C_COMPILER_ID MATCHES "Clang")
    message(FATAL_ERROR "ENABLE_FUZZ needs clang (libFuzzer), not ${CMAKE_C_COMPILER_ID}: "
                        "configure a new build directory with -DCMAKE_C_COMPILER=clang")
  endif()
  add_compile_options(-fsanitize=fuzzer-no-link)
  set(ENABLE_ASAN ON)
  set(ENABLE_UBSAN ON)
endif()
if(ENABLE_ASAN)
  list(APPEND PDSIM_SAN_FLAGS -fsanitize=address)
endif()
if(ENABLE_UBSAN)
  # gcc's "undefined" leaves out float-cast-overflow (a double too large for
  # its integer type); clang's includes it.
  list(APPEND PDSIM_SAN_FLAGS -fsanitize=undefined,float-cast-overflow
       -fno-sanitize-recover=undefined,float-cast-overflow)
endif()
if(PDSIM_SAN_FLAGS)
  list(APPEND PDSIM_SAN_FLAGS -fno-omit-frame-pointer)
  add_compile_options(${PDSIM_SAN_FLAGS})
  add_link_options(${PDSIM_SAN_FLAGS})
endif()
