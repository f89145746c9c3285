"""The guards that keep the suite honest, shown firing on planted bugs.

1. The ctest inventory guard (tests/tools/ctest_inventory.py): a Catch2 test
   whose name contains ';' is split by CMake into two ctest entries that each
   run nothing. We register the canary binary (one good name, one broken) in a
   scratch ctest tree with CMake's own discovery script, exactly as the build
   does, and show that the guard names the broken test, that the entries fail
   at run time thanks to `--warn NoTests`, and that both stay quiet on a
   well-named suite.
2. The skip guard (tests/python/conftest.py): a test skipped without a reason
   fails the session; one skipped with a reason does not.
"""
import os
import pathlib
import shutil
import subprocess
import sys

import pytest

HERE = pathlib.Path(__file__).resolve().parent
REPO = HERE.parent.parent
BUILD = pathlib.Path(os.environ.get("KSIM_BUILD_DIR", REPO / "build"))
GUARD = REPO / "tests" / "tools" / "ctest_inventory.py"
CANARY = BUILD / "tests" / "inventory_canary"


def catch_add_tests_script():
    """CMake's Catch2 discovery script, as the build uses it."""
    for d in ("/usr/lib/cmake/Catch2", "/usr/lib/x86_64-linux-gnu/cmake/Catch2", "/usr/share/cmake/Catch2"):
        p = pathlib.Path(d) / "CatchAddTests.cmake"
        if p.exists():
            return p
    raise AssertionError("CatchAddTests.cmake (Debian package catch2) not found")


def scratch_ctest_tree(tmp_path, binary=CANARY):
    """A ctest tree holding one binary's entries, generated the way catch_discover_tests does."""
    assert binary.exists(), f"build it first: {binary}"
    tests_file = tmp_path / "scratch_tests.cmake"
    args = ["cmake", f"-DTEST_TARGET={binary.name}", f"-DTEST_EXECUTABLE={binary}",
            f"-DTEST_WORKING_DIR={tmp_path}", "-DTEST_EXTRA_ARGS=--warn;NoTests",
            f"-DCTEST_FILE={tests_file}", "-DTEST_LIST=scratch_TESTS"]
    subprocess.run(args + ["-P", str(catch_add_tests_script())], check=True, capture_output=True)
    (tmp_path / "CTestTestfile.cmake").write_text(f'include("{tests_file}")\n')
    return tmp_path


def run_guard(tree):
    return subprocess.run([sys.executable, str(GUARD), str(tree)], capture_output=True, text=True)


def test_a_semicolon_in_a_test_name_makes_the_guard_fire(tmp_path):
    tree = scratch_ctest_tree(tmp_path)
    r = run_guard(tree)
    assert r.returncode == 1, r.stdout + r.stderr
    assert "test case 'canary: a name with a semicolon; CMake splits it in two' is never run by ctest" in r.stderr
    assert "runs 0 test cases" in r.stderr
    assert "contains ;" in r.stderr


def test_the_split_entries_fail_when_run_instead_of_passing_empty(tmp_path):
    tree = scratch_ctest_tree(tmp_path)
    r = subprocess.run(["ctest", "--output-on-failure"], cwd=tree, capture_output=True, text=True)
    assert r.returncode != 0
    # the well-named test passes; the two halves of the broken name fail
    assert "1 tests failed" not in r.stdout
    assert "67% tests passed" not in r.stdout
    assert "2 tests failed out of 3" in r.stdout, r.stdout


def test_the_guard_is_quiet_on_a_well_named_suite(tmp_path):
    # common_tests: a real suite of the project, registered the same way
    suite = BUILD / "tests" / "common_tests"
    listed = subprocess.run([str(suite), "--list-test-names-only"], capture_output=True, text=True).stdout.split("\n")
    tree = scratch_ctest_tree(tmp_path, binary=suite)
    r = run_guard(tree)
    assert r.returncode == 0, r.stdout + r.stderr
    assert f"1 Catch2 binaries, {len([n for n in listed if n.strip()])} test cases run by ctest" in r.stdout


def _run_pytest_on(tmp_path, body):
    shutil.copy(HERE / "conftest.py", tmp_path / "conftest.py")
    (tmp_path / "test_planted.py").write_text("import pytest\n\n" + body)
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tmp_path)],
                          capture_output=True, text=True, env={**os.environ, "PYTHONPATH": ""})


def test_a_skip_without_a_reason_fails_the_session(tmp_path):
    r = _run_pytest_on(tmp_path, "def test_bare():\n    pytest.skip()\n\n"
                                 "@pytest.mark.skip\ndef test_marked():\n    pass\n")
    assert r.returncode == 1, r.stdout + r.stderr
    assert "skipped without a reason: " in r.stdout
    assert "test_bare" in r.stdout and "test_marked" in r.stdout


def test_a_skip_with_a_reason_is_allowed(tmp_path):
    r = _run_pytest_on(tmp_path, "def test_ok():\n    pass\n\n"
                                 "def test_explained():\n    pytest.skip('needs a GPU')\n")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "1 passed, 1 skipped" in r.stdout
