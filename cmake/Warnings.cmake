# Every target links project_warnings; -Werror only when WERROR=ON (CI).
add_library(project_warnings INTERFACE)
target_compile_options(project_warnings INTERFACE
  -Wall -Wextra -Wpedantic -Wshadow -Wformat=2 -Wstrict-prototypes
  -Wmissing-prototypes -Wvla -Wnull-dereference)
target_compile_definitions(project_warnings INTERFACE _POSIX_C_SOURCE=200809L _DEFAULT_SOURCE)
if(WERROR)
  target_compile_options(project_warnings INTERFACE -Werror)
endif()
