# The audit log: SQLite sink, chain, keys, group commit, durability (unit).
edgeroute_add_gtest(test_audit
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/audit_test.cc
  LIBS edgeroute_audit PkgConfig::SQLITE3)

# The same against a real PostgreSQL server started by the test (label service).
edgeroute_add_gtest(test_audit_postgres
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/audit_postgres_test.cc
  LIBS edgeroute_audit PkgConfig::LIBPQ nlohmann_json::nlohmann_json
  LABELS service)
# ... and `edgeroute report` reading it.
target_compile_definitions(test_audit_postgres PRIVATE EDGEROUTE_BIN="$<TARGET_FILE:edgeroute>")
add_dependencies(test_audit_postgres edgeroute)

# `edgeroute audit verify|count` and `edgeroute report` through the binary.
edgeroute_add_gtest(test_audit_cli
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/audit_cli_test.cc
  LIBS edgeroute_audit PkgConfig::SQLITE3 nlohmann_json::nlohmann_json)
target_compile_definitions(test_audit_cli PRIVATE EDGEROUTE_BIN="$<TARGET_FILE:edgeroute>")
add_dependencies(test_audit_cli edgeroute)
