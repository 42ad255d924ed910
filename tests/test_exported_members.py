"""The public API is what ``__all__`` lists, in one place per package, and all of it resolves."""

from __future__ import annotations

import importlib
import subprocess
import sys

import pytest

import caw_lab

PACKAGES = ["caw_lab", "caw_lab.tools", "caw_lab.runtimes", "caw_lab.alerts", "caw_lab.lab", "caw_lab.store"]


def test_the_front_door_lists_exactly_what_it_offers() -> None:
    public = {name for name in dir(caw_lab) if not name.startswith("_")} | {"__version__"}
    assert public == set(caw_lab.__all__)


@pytest.mark.parametrize("package", PACKAGES)
def test_every_listed_name_resolves(package: str) -> None:
    module = importlib.import_module(package)
    missing = [name for name in module.__all__ if not hasattr(module, name)]
    assert not missing, f"{package}.__all__ lists names it lacks: {missing}"
    assert len(set(module.__all__)) == len(module.__all__), f"{package}.__all__ repeats a name"


def test_importing_a_lower_layer_does_not_load_the_registry_or_the_notebook() -> None:
    """The front door is lazy: ``import caw_lab.store`` stays small."""
    code = "import sys, caw_lab.store; print(sorted(m for m in sys.modules if m.startswith('caw_lab')))"
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert "caw_lab.store" in loaded
    assert "caw_lab.tools" not in loaded and "caw_lab.lab" not in loaded


def test_the_names_load_on_first_use() -> None:
    assert caw_lab.connect is importlib.import_module("caw_lab.tools.client").connect
    assert caw_lab.load_ipython_extension is importlib.import_module("caw_lab.lab").load_ipython_extension
    with pytest.raises(AttributeError):
        caw_lab.no_such_name  # noqa: B018
