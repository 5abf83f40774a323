"""wallet/provider (the provider client, its services, the sandbox, their models) never imports
wallet/admin: the admin API and CLI depend on it, not the other way round (no import cycle)."""

from __future__ import annotations

import ast
from pathlib import Path

PROVIDER = Path(__file__).resolve().parents[2] / "wallet" / "provider"


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def test_the_provider_package_never_imports_the_admin_package():
    files = sorted(PROVIDER.glob("*.py"))
    assert len(files) >= 6
    offenders = {f.name: sorted(n for n in _imports(f) if n == "wallet.admin" or n.startswith("wallet.admin."))
                 for f in files}
    assert {name: found for name, found in offenders.items() if found} == {}
