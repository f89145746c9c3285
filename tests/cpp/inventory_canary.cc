// A Catch2 binary with one deliberately broken test name, for the test of the
// ctest inventory guard (tests/python/test_inventory_guard.py). It is built but
// never registered with ctest: the guard's test registers it in a scratch ctest
// tree with CMake's own discovery script and shows that the guard fires on the
// name CMake splits in two, and stays quiet on the well-named test.
#include <catch2/catch.hpp>

TEST_CASE("canary: a well-named test", "[canary]") {
  REQUIRE(1 + 1 == 2);
}

// The planted bug the inventory guard must catch (never registered with ctest
// by the build; tests/python/test_inventory_guard.py registers it on purpose).
#define KSIM_CANARY_BROKEN_NAME "canary: a name with a semicolon; CMake splits it in two"
TEST_CASE(KSIM_CANARY_BROKEN_NAME, "[canary]") {
  REQUIRE(2 + 2 == 4);
}
