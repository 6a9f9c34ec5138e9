# Compiler flags shared by every edgeroute target, exposed as an interface
# library so third-party code is never compiled with our warning set.
add_library(edgeroute_flags INTERFACE)
target_compile_options(edgeroute_flags INTERFACE
  -Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor -Woverloaded-virtual
  -Wcast-align -Wimplicit-fallthrough -Wformat=2)
if(EDGEROUTE_WARNINGS_AS_ERRORS)
  target_compile_options(edgeroute_flags INTERFACE -Werror)
endif()

set(_edgeroute_sanitizers "")
if(EDGEROUTE_SANITIZE_ADDRESS)
  list(APPEND _edgeroute_sanitizers address)
endif()
if(EDGEROUTE_SANITIZE_UNDEFINED)
  list(APPEND _edgeroute_sanitizers undefined)
endif()
if(EDGEROUTE_SANITIZE_THREAD)
  list(APPEND _edgeroute_sanitizers thread)
endif()
if(_edgeroute_sanitizers)
  list(JOIN _edgeroute_sanitizers "," _edgeroute_san_list)
  target_compile_options(edgeroute_flags INTERFACE
    -fsanitize=${_edgeroute_san_list} -fno-omit-frame-pointer -fno-sanitize-recover=all)
  target_link_options(edgeroute_flags INTERFACE -fsanitize=${_edgeroute_san_list})
endif()
