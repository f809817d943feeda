# The one place compiler warnings are chosen (see STYLE.md). -Werror comes from
# STSGUARD_WERROR so that CI fails on any warning while a distro build does not
# break on a newer compiler's new diagnostics.
set(STSGUARD_WARNINGS
  -Wall -Wextra -Wpedantic
  -Wshadow -Wpointer-arith -Wcast-qual -Wcast-align
  -Wstrict-prototypes -Wmissing-prototypes -Wmissing-declarations
  -Wwrite-strings -Wformat=2 -Wformat-security -Wundef
  -Wnull-dereference -Wvla -Wdouble-promotion -Wold-style-definition
  -Wconversion -Wno-sign-conversion
  -Wimplicit-fallthrough)
if(CMAKE_C_COMPILER_ID STREQUAL "GNU")
  list(APPEND STSGUARD_WARNINGS -Wlogical-op -Wduplicated-cond -Wduplicated-branches -Wjump-misses-init)
endif()
if(STSGUARD_WERROR)
  list(APPEND STSGUARD_WARNINGS -Werror)
endif()
add_compile_options(${STSGUARD_WARNINGS})
# Hardening for everything we ship; code loaded into an MTA must be position
# independent and bound at load time.
add_compile_options(-fstack-protector-strong -fPIC)
if(NOT STSGUARD_SANITIZE AND NOT STSGUARD_FUZZ)
  add_compile_definitions($<$<NOT:$<CONFIG:Debug>>:_FORTIFY_SOURCE=2>)
endif()
add_link_options(-Wl,-z,relro -Wl,-z,now)
