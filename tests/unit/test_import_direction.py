"""wallet/provider (the provider client, its services, the sandbox, their models), wallet/controls,
wallet/people (staff, roles, audit) and wallet/ledger never import wallet/admin: the admin API, the CLI and the
site depend on them, not the other way round (no import cycle)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

WALLET = Path(__file__).resolve().parents[2] / "wallet"


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


@pytest.mark.parametrize(("package", "at_least"), [("provider", 6), ("controls", 2), ("people", 3), ("ledger", 8)])
def test_the_domain_packages_never_import_the_admin_package(package: str, at_least: int):
    files = sorted((WALLET / package).glob("*.py"))
    assert len(files) >= at_least
    offenders = {f.name: sorted(n for n in _imports(f) if n == "wallet.admin" or n.startswith("wallet.admin."))
                 for f in files}
    assert {name: found for name, found in offenders.items() if found} == {}
