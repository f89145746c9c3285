"""Where the `ksim` command-line binary of the build under test is: next to the
Python package the tests import (bindings/ksim beside build/python)."""
import os
import pathlib

import pytest

ROOT = pathlib.Path(__file__).parents[2]


def ksim_bin():
    for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) + [str(ROOT / "build" / "python")]:
        cand = pathlib.Path(p).parent / "bindings" / "ksim"
        if p and cand.exists():
            return str(cand)
    pytest.skip("no ksim binary next to the Python package")
