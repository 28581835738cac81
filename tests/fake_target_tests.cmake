# The fake Ollama's own suite; include()d from tests/CMakeLists.txt after
# add_subdirectory(support).

add_executable(fake_target_tests ${CMAKE_CURRENT_LIST_DIR}/fake_target_tests.cpp)
target_link_libraries(fake_target_tests PRIVATE
  foreman_test_support Boost::unit_test_framework)
add_test(NAME fake_target_tests COMMAND fake_target_tests --color_output=no)
set_tests_properties(fake_target_tests PROPERTIES TIMEOUT 300)
