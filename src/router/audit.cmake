# edgeroute_audit: the hash-chained audit log (SQLite and PostgreSQL sinks,
# verify, group-commit writer). docs/audit.md.
find_package(Threads REQUIRED)
add_library(edgeroute_audit
  ${CMAKE_CURRENT_LIST_DIR}/audit.cc
  ${CMAKE_CURRENT_LIST_DIR}/audit_hmac.cc
  ${CMAKE_CURRENT_LIST_DIR}/audit_sqlite.cc
  ${CMAKE_CURRENT_LIST_DIR}/audit_postgres.cc)
target_include_directories(edgeroute_audit PUBLIC ${PROJECT_SOURCE_DIR}/include)
target_link_libraries(edgeroute_audit
  PUBLIC edgeroute_common Threads::Threads
  PRIVATE PkgConfig::SQLITE3 PkgConfig::LIBPQ nlohmann_json::nlohmann_json edgeroute_flags)
