"""Every Python package in the tree must be listed in pyproject.toml, or a wheel silently lacks it."""

from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_every_package_is_listed_for_the_wheel() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    listed = set(config["tool"]["setuptools"]["packages"])
    found = {
        ".".join(init.parent.relative_to(ROOT).parts)
        for top in ("desktop_app", "server_stub")
        for init in (ROOT / top).rglob("__init__.py")
    }
    assert found - listed == set(), "add these to [tool.setuptools] packages"
    assert "desktop_app.resources" in listed
    assert (ROOT / "resources" / "icons" / "app.svg").is_file()


def test_every_resource_file_is_package_data() -> None:
    """resources/ is installed as desktop_app.resources: each file needs its folder listed as a
    package and a package-data pattern that matches it (packaging/check_pip_install.sh proves
    the same on a real wheel in CI)."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    setuptools = config["tool"]["setuptools"]
    assert setuptools["package-dir"]["desktop_app.resources"] == "resources"
    unshipped = []
    for path in (ROOT / "resources").rglob("*"):
        if not path.is_file():
            continue
        folder = path.parent.relative_to(ROOT / "resources").parts
        package = ".".join(("desktop_app", "resources", *folder))
        patterns = setuptools["package-data"].get(package, [])
        if package not in setuptools["packages"] or not any(path.match(p) for p in patterns):
            unshipped.append(str(path.relative_to(ROOT)))
    assert unshipped == [], "list these in pyproject.toml [tool.setuptools] packages/package-data"
