"""hotline_pbx.resources: the shipped directories from a checkout or from an install.

The real non-editable install (and the sandbox's one-line refusal there) is
tests/integration/test_installed_package.py; here the layouts are built by
hand, so each rule is seen on its own.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from hotline_pbx.resources import PACKAGE_DATA, SHIPPED, ResourceMissing, checkout_root, shipped_dir
from hotline_pbx.sandbox.pbx import config_sources, harness_path
from tests.conftest import CHECKOUT


def installed_layout(tmp_path: Path, *, with_data: bool = True) -> Path:
    """``site-packages/hotline_pbx`` as a wheel installs it."""
    package = tmp_path / "lib" / "python3.11" / "site-packages" / "hotline_pbx"
    package.mkdir(parents=True)
    if with_data:
        for name in SHIPPED:
            (package / PACKAGE_DATA / name).mkdir(parents=True)
    return package


def test_the_running_package_is_the_checkouts() -> None:
    assert checkout_root() == CHECKOUT
    for name in SHIPPED:
        assert shipped_dir(name) == CHECKOUT / name


def test_an_install_uses_its_package_data(tmp_path: Path) -> None:
    package = installed_layout(tmp_path)
    assert checkout_root(package) is None
    for name in SHIPPED:
        assert shipped_dir(name, package) == package / PACKAGE_DATA / name


def test_a_package_under_src_without_a_pyproject_is_an_install(tmp_path: Path) -> None:
    """The daemon user's copy of the package (sandbox/unprivileged.py) lives in
    ``<tmp>/src/hotline_pbx``: it has no pyproject.toml beside ``src``."""
    package = tmp_path / "src" / "hotline_pbx"
    (package / PACKAGE_DATA / "migrations").mkdir(parents=True)
    assert checkout_root(package) is None
    assert shipped_dir("migrations", package) == package / PACKAGE_DATA / "migrations"


def test_an_incomplete_install_says_so_in_one_line(tmp_path: Path) -> None:
    package = installed_layout(tmp_path, with_data=False)
    with pytest.raises(ResourceMissing) as raised:
        shipped_dir("migrations", package)
    message = str(raised.value)
    assert "\n" not in message
    assert str(package / PACKAGE_DATA / "migrations") in message


def test_only_shipped_names_are_resources() -> None:
    with pytest.raises(ValueError, match="not shipped"):
        shipped_dir("sandbox")
    with pytest.raises(ValueError, match="not shipped"):
        shipped_dir("../etc")


def test_the_sandbox_finds_the_product_files_and_its_own_in_a_checkout() -> None:
    assert config_sources() == (CHECKOUT / "asterisk-conf", CHECKOUT / "dialplan",
                                CHECKOUT / "sandbox")
    assert all(any(source.glob("*.conf")) for source in config_sources())
    assert harness_path(Path("scripts/build-asterisk-root.sh")).is_file()

