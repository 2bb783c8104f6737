"""What a source file imports, read with `ast` (both layout tests use it)."""

from __future__ import annotations

import ast

__all__ = ["imported_names"]


def imported_names(source: str, package: str, *, from_modules: bool = True) -> set[str]:
    """Every dotted name the import statements of `source` name, anywhere in its body (functions and
    `TYPE_CHECKING` blocks too): `a.b` for `import a.b`; `a.b.c` for `from a.b import c`, and `a.b` as well with
    `from_modules`. Relative imports are resolved against `package`, the package the file belongs to."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                parts = parts[: len(parts) - (node.level - 1)]
                base = ".".join([*parts, base] if base else parts)
            if from_modules:
                found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return found
