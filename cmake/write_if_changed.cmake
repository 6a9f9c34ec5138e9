# include(write_if_changed.cmake) from a cmake -P script, then
# edgeroute_write_if_changed(PATH TEXT): writes TEXT to PATH unless PATH
# already holds exactly TEXT, so generated files keep their timestamp and
# their dependents are not rebuilt needlessly.
function(edgeroute_write_if_changed path text)
  if(EXISTS "${path}")
    file(READ "${path}" previous)
    if(previous STREQUAL text)
      return()
    endif()
  endif()
  file(WRITE "${path}" "${text}")
endfunction()
