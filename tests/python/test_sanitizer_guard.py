"""The sanitizer suite's leak filter (tests/sanitizers/python_suite.py), shown on reports.

Under `make test-asan` leaks do not fail the Python process by themselves
(CPython's at-exit blocks would); the wrapper fails the run when a leak's stack
passes through ksim's code. These reports are in LeakSanitizer's own format.
"""
import importlib.util
import pathlib

_path = pathlib.Path(__file__).resolve().parents[1] / "sanitizers" / "python_suite.py"
_spec = importlib.util.spec_from_file_location("python_suite", _path)
python_suite = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(python_suite)

CPYTHON_ONLY = """=================================================================
==21370==ERROR: LeakSanitizer: detected memory leaks

Direct leak of 960 byte(s) in 1 object(s) allocated from:
    #0 0x7f648c4b89cf in __interceptor_malloc ../../../../src/libsanitizer/asan/asan_malloc_linux.cpp:69
    #1 0x5083f2 in PyType_GenericAlloc (/usr/bin/python3.11+0x5083f2)

Indirect leak of 2181 byte(s) in 1 object(s) allocated from:
    #0 0x7f648c4b89cf in __interceptor_malloc ../../../../src/libsanitizer/asan/asan_malloc_linux.cpp:69
    #1 0x4fc0f9  (/usr/bin/python3.11+0x4fc0f9)

SUMMARY: AddressSanitizer: 3141 byte(s) leaked in 2 allocation(s).
"""

KSIM_LEAK = CPYTHON_ONLY.replace("SUMMARY", """Direct leak of 64 byte(s) in 1 object(s) allocated from:
    #0 0x7f1 in operator new(unsigned long) ../../../../src/libsanitizer/asan/asan_new_delete.cpp:95
    #1 0x7f2 in ksim::Cluster::start() %s/engine/server/cluster.cc:120
    #2 0x7f3 in pybind11::cpp_function::dispatcher (/x/build-asan/python/ksim/_ksim.cpython-311-x86_64-linux-gnu.so+0x1)
    #3 0x5083f2 in _PyEval_EvalFrameDefault (/usr/bin/python3.11+0x5083f2)

SUMMARY""" % python_suite.REPO)


def test_cpython_at_exit_blocks_are_not_ksim_leaks():
    assert python_suite.ksim_leaks(CPYTHON_ONLY) == []


def test_a_leak_through_ksim_code_is_reported():
    leaks = python_suite.ksim_leaks(KSIM_LEAK)
    assert len(leaks) == 1
    assert "ksim::Cluster::start()" in leaks[0]
