# ENABLE_ASAN / ENABLE_UBSAN add compile and link flags to every target (libuv's pattern).
set(PDSIM_SAN_FLAGS "")
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
