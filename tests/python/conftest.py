import os
import sys

# ctest sets PYTHONPATH to <build>/python; running pytest by hand from the
# repository root with a build in ./build works too (PYTHONPATH wins).
_build = os.path.join(os.path.dirname(__file__), "..", "..", "build", "python")
if not os.environ.get("PYTHONPATH") and os.path.isdir(_build) and _build not in sys.path:
    sys.path.insert(0, os.path.abspath(_build))


# ---------------------------------------------------------------------------
# A skipped test must say why. A test that is collected and then skipped with
# no reason (bare pytest.skip(), @pytest.mark.skip without reason=) is a test
# that silently stopped protecting anything, so the session fails, naming it.
_UNEXPLAINED = {"", "unconditional skip", "skipped"}
_unexplained_skips = []


def skip_reason(report):
    """The reason pytest recorded for a skipped report ('' when there is none)."""
    longrepr = report.longrepr
    if isinstance(longrepr, tuple) and len(longrepr) == 3:
        reason = str(longrepr[2])
    else:
        reason = str(longrepr or "")
    if reason.startswith("Skipped:"):
        reason = reason[len("Skipped:"):]
    return reason.strip()


def pytest_runtest_logreport(report):
    if report.skipped and not hasattr(report, "wasxfail"):
        if skip_reason(report).lower() in _UNEXPLAINED:
            _unexplained_skips.append(report.nodeid)


def pytest_sessionfinish(session, exitstatus):
    if _unexplained_skips and not getattr(session.config, "_ksim_allow_unexplained", False):
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        for nodeid in _unexplained_skips:
            line = f"skipped without a reason: {nodeid}"
            if reporter:
                reporter.write_line(line, red=True)
            else:
                print(line)
        session.exitstatus = 1
