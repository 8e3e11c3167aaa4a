"""Build hook: put the top-level shipped directories into the package.

Everything else about the build is in pyproject.toml. ``migrations/``,
``asterisk-conf/`` and ``dialplan/`` stay at the top of the repository
(DESIGN.md's layout); a built package carries a copy of each under
``hotline_pbx/_data/`` so that an install (``pip install .``, a wheel) has
them: see src/hotline_pbx/resources.py, which names them and finds them.
An editable install copies nothing: it finds them in the checkout.
"""

from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

HERE = Path(__file__).resolve().parent


def _resources_module():  # type: ignore[no-untyped-def]
    """hotline_pbx/resources.py on its own (standard library only): the one list."""
    spec = importlib.util.spec_from_file_location(
        "_hotline_resources", HERE / "src" / "hotline_pbx" / "resources.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class BuildWithShippedFiles(build_py):
    def run(self) -> None:
        super().run()
        if getattr(self, "editable_mode", False):
            return
        resources = _resources_module()
        target = Path(self.build_lib) / "hotline_pbx" / resources.PACKAGE_DATA
        for name in resources.SHIPPED:
            source = HERE / name
            if not source.is_dir():
                # A wheel without its migrations would install and then fail
                # at `hotline-pbx migrate`: refuse to build it instead.
                raise SystemExit(f"setup.py: {source} is missing; build from a full checkout")
            shutil.rmtree(target / name, ignore_errors=True)
            shutil.copytree(source, target / name,
                            ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))


setup(cmdclass={"build_py": BuildWithShippedFiles})
