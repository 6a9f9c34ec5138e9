# cmake -DINPUT=FILE -DOUTPUT=FILE.cc -DSYMBOL=name -DNAMESPACE=ns -P embed_text.cmake
# Writes a C++ source defining `std::string_view NAMESPACE::SYMBOL()`, which
# returns INPUT's bytes (a raw string literal), so a text asset ships inside
# the binary and the build re-runs this when the asset changes.
foreach(var INPUT OUTPUT SYMBOL NAMESPACE)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "embed_text.cmake: -D${var}=... is required")
  endif()
endforeach()
file(READ "${INPUT}" content)
set(delimiter "edgeroute_embed")
string(FIND "${content}" ")${delimiter}\"" clash)
if(NOT clash EQUAL -1)
  message(FATAL_ERROR "embed_text.cmake: ${INPUT} contains the raw-string terminator )${delimiter}\"")
endif()
file(RELATIVE_PATH shown "${CMAKE_CURRENT_LIST_DIR}/.." "${INPUT}")
set(generated "// Generated from ${shown} by cmake/embed_text.cmake; edit the source file instead.
#include <string_view>

namespace ${NAMESPACE} {
std::string_view ${SYMBOL}();
std::string_view ${SYMBOL}() { return R\"${delimiter}(${content})${delimiter}\"; }
}  // namespace ${NAMESPACE}
")
include("${CMAKE_CURRENT_LIST_DIR}/write_if_changed.cmake")
edgeroute_write_if_changed("${OUTPUT}" "${generated}")
