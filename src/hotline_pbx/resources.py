"""Where the product's own shipped files are: migrations, Asterisk config, dialplan.

``migrations/``, ``asterisk-conf/`` and ``dialplan/`` live at the top of the
repository (DESIGN.md's layout), not inside the package. ``hotline-pbx
migrate`` needs the first in production; the operator installs the other two
next to Asterisk, and the test sandbox renders them into its PBX. So they are
resources of the installed package too:

- run from a checkout (the editable install of ``scripts/setup.sh``, or
  ``PYTHONPATH=src``) they are the checkout's own directories, so an edit
  applies at once;
- anywhere else (a wheel, ``pip install .``, the daemon user's copy of the
  package made by :mod:`hotline_pbx.sandbox.unprivileged`) they are
  ``hotline_pbx/_data/<name>/``, copied there at build time by ``setup.py``.

The files need a real directory (Alembic reads its scripts from one), so a
zipped import is not supported. This module imports nothing but the standard
library: ``setup.py`` loads it to learn :data:`SHIPPED` before the package's
dependencies exist.
"""

from __future__ import annotations

from pathlib import Path

#: The top-level directories of the repository that ship inside the package.
SHIPPED = ("migrations", "asterisk-conf", "dialplan")
#: Where a built package keeps them, relative to the package directory.
PACKAGE_DATA = "_data"

_PACKAGE_DIR = Path(__file__).resolve().parent


class ResourceMissing(RuntimeError):
    """A shipped directory is neither in a checkout nor in the installed package."""


def checkout_root(package_dir: Path = _PACKAGE_DIR) -> Path | None:
    """The repository this package is imported from (``<root>/src/hotline_pbx``),
    or None when it runs from an install."""
    root = package_dir.parent.parent
    if package_dir.parent.name == "src" and (root / "pyproject.toml").is_file():
        return root
    return None


def shipped_dir(name: str, package_dir: Path = _PACKAGE_DIR) -> Path:
    """The directory of the shipped files ``name`` (one of :data:`SHIPPED`)."""
    if name not in SHIPPED:
        raise ValueError(f"{name!r} is not shipped with hotline-pbx (one of {SHIPPED})")
    root = checkout_root(package_dir)
    where = root / name if root is not None else package_dir / PACKAGE_DATA / name
    if not where.is_dir():
        raise ResourceMissing(f"{where} is missing: this hotline-pbx install is incomplete "
                              "(build it with `pip install .` from the checkout)")
    return where
