"""Every scenario in scenarios/ tells its story as expected, for a few seeds."""
import importlib.util
import pathlib

import pytest

SCENARIOS = sorted((pathlib.Path(__file__).parents[2] / "scenarios").glob("*.py"))


def load(path):
    spec = importlib.util.spec_from_file_location(path.stem, path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_there_are_scenarios():
    assert len(SCENARIOS) >= 2


@pytest.mark.parametrize("path", SCENARIOS, ids=lambda p: p.stem)
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_scenario_tells_its_story(path, seed):
    mod = load(path)
    assert mod.__doc__, "a scenario states what it demonstrates"
    assert mod.scenario(seed) is True
