# edgeroute_cloud: cloud backends (edgeroute, OpenAI-compatible, KServe v2)
# and the resilience layer (deadline, retry budget, circuit breaker), plus
# shadow sampling, which only needs the resilient client.
find_package(Threads REQUIRED)
add_library(edgeroute_cloud
  ${CMAKE_CURRENT_LIST_DIR}/cloud_backends.cc
  ${CMAKE_CURRENT_LIST_DIR}/cloud_http.cc
  ${CMAKE_CURRENT_LIST_DIR}/cloud_resilience.cc
  ${CMAKE_CURRENT_LIST_DIR}/shadow.cc)
target_include_directories(edgeroute_cloud PUBLIC ${PROJECT_SOURCE_DIR}/include)
target_link_libraries(edgeroute_cloud
  PUBLIC edgeroute_common edgeroute_flags Threads::Threads
  PRIVATE edgeroute_text PkgConfig::HTTPLIB nlohmann_json::nlohmann_json)
