# edgeroute_policy: reason codes, complexity features, the decision rule,
# policy.toml and threshold calibration. Small and dependency-light so that
# tests and tools can use it without the engine.
add_library(edgeroute_policy ${CMAKE_CURRENT_SOURCE_DIR}/policy.cc ${CMAKE_CURRENT_SOURCE_DIR}/calibrate.cc)
target_include_directories(edgeroute_policy PUBLIC ${PROJECT_SOURCE_DIR}/include)
target_link_libraries(edgeroute_policy
  PUBLIC edgeroute_common nlohmann_json::nlohmann_json edgeroute_flags
  PRIVATE PkgConfig::TOMLPP)

# edgeroute_router: the edge-first router (engine + PII + cloud + audit).
add_library(edgeroute_router ${CMAKE_CURRENT_SOURCE_DIR}/router.cc)
target_include_directories(edgeroute_router PUBLIC ${PROJECT_SOURCE_DIR}/include)
target_link_libraries(edgeroute_router
  PUBLIC edgeroute_policy edgeroute_engine edgeroute_text edgeroute_cloud edgeroute_audit edgeroute_flags)
