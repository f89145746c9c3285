import os
import sys

# ctest sets PYTHONPATH to <build>/python; running pytest by hand from the
# repository root with a build in ./build works too (PYTHONPATH wins).
_build = os.path.join(os.path.dirname(__file__), "..", "..", "build", "python")
if not os.environ.get("PYTHONPATH") and os.path.isdir(_build) and _build not in sys.path:
    sys.path.insert(0, os.path.abspath(_build))
