edgeroute_add_gtest(test_policy
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/policy_test.cc ${CMAKE_CURRENT_SOURCE_DIR}/calibrate_test.cc
  LIBS edgeroute_policy)
