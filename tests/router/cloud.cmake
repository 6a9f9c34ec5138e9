# Cloud backends and resilience. The fake cloud servers in peers/ are a small
# library so that service tests can reuse them (#include "peers/fake_cloud_servers.h").
find_package(Threads REQUIRED)
add_library(edgeroute_cloud_peers STATIC ${CMAKE_CURRENT_LIST_DIR}/peers/fake_cloud_servers.cc)
target_include_directories(edgeroute_cloud_peers PUBLIC ${CMAKE_CURRENT_LIST_DIR})
target_link_libraries(edgeroute_cloud_peers
  PUBLIC nlohmann_json::nlohmann_json Threads::Threads edgeroute_flags
  PRIVATE PkgConfig::HTTPLIB)

edgeroute_add_gtest(test_cloud
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/cloud_breaker_test.cc
          ${CMAKE_CURRENT_LIST_DIR}/cloud_resilience_test.cc
          ${CMAKE_CURRENT_LIST_DIR}/cloud_backends_test.cc
  LIBS edgeroute_cloud edgeroute_cloud_peers edgeroute_text)

edgeroute_add_gtest(test_shadow
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/shadow_test.cc
  LIBS edgeroute_cloud edgeroute_cloud_peers)
