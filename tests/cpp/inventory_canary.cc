// A Catch2 binary with one deliberately broken test name, for the test of the
// ctest inventory guard (tests/python/test_inventory_guard.py). It is built but
// never registered with ctest: the guard's test registers it in a scratch ctest
// tree with CMake's own discovery script and shows that the guard fires on the
// name CMake splits in two, and stays quiet on the well-named test.
#include <catch2/catch.hpp>

TEST_CASE("canary: a well-named test", "[canary]") {
  REQUIRE(1 + 1 == 2);
}

TEST_CASE("canary: a name with a semicolon; CMake splits it in two", "[canary]") {  // deliberate: the planted bug of the inventory guard, never registered with ctest
  REQUIRE(2 + 2 == 4);
}
