"""The package layout's import rules hold (pyproject.toml ``[tool.importlinter]``).

A wrong arrow between parts fails here, in CI, with import-linter's explanation of which
module imports which and on what line. import-linter reads every import statement,
function-level ones included, so a lazy import cannot dodge a rule: the second test proves
that on a throwaway package tree.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")
PARTS = sorted(p.parent.name for p in (REPO / "journeys").glob("*/__init__.py"))
# worker.py is a module, which import-linter cannot take as a root: its own arrows are
# checked here. It wires activities and workflows to the parts below them.
WORKER_MAY_NOT_IMPORT = ("journeys.app", "journeys.api", "journeys.cli")


def _lint(cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache"], cwd=cwd, capture_output=True, text=True, check=False
    )


def test_every_import_rule_of_the_layout_is_kept() -> None:
    result = _lint(REPO)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


def test_a_wrong_arrow_fails_even_when_the_import_is_inside_a_function(tmp_path: Path) -> None:
    package = tmp_path / "shop"
    for part, body in {
        "model": "def price():\n    from shop.store import load  # lazy, and still wrong\n",
        "store": "def load():\n    return 1\n",
    }.items():
        (package / part).mkdir(parents=True)
        (package / part / "__init__.py").write_text(body)
    (package / "__init__.py").write_text("")
    (tmp_path / ".importlinter").write_text(
        "[importlinter]\nroot_package = shop\n\n"
        "[importlinter:contract:layers]\nname = layers\ntype = layers\n"
        "layers =\n    shop.store\n    shop.model\n"
    )
    result = _lint(tmp_path)
    assert result.returncode == 1
    assert "shop.model is not allowed to import shop.store" in result.stdout


def test_worker_imports_nothing_above_it() -> None:
    tree = ast.parse((REPO / "worker.py").read_text())
    nodes = list(ast.walk(tree))
    imported = {a.name for n in nodes if isinstance(n, ast.Import) for a in n.names}
    imported |= {n.module for n in nodes if isinstance(n, ast.ImportFrom) and n.module}
    assert imported, "worker.py imports nothing: the walk is broken"
    wrong = sorted(m for m in imported if m.startswith(WORKER_MAY_NOT_IMPORT))
    assert wrong == []


def test_each_part_says_what_it_holds_and_what_it_may_import() -> None:
    assert len(PARTS) >= 11, PARTS
    for part in PARTS:
        doc = ast.get_docstring(ast.parse((REPO / "journeys" / part / "__init__.py").read_text()))
        assert doc and "import" in doc, f"journeys/{part}/__init__.py: no docstring on imports"


def _test_modules_imported(path: Path) -> list[str]:
    """The ``test_*`` modules ``path`` imports, however spelled (absolute, relative, ``from .``)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            modules = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            modules = [base, *(f"{base}.{alias.name}" for alias in node.names)]
        else:
            continue
        found += [m for m in modules if m.rpartition(".")[2].startswith("test_")]
    return found


def test_no_test_module_imports_another() -> None:
    """Shared fixtures live in conftest.py, shared helpers in plain modules: a fixture imported
    from a test module hides where it comes from (ruff F811), and one module's internals
    become another's interface."""
    files = sorted((REPO / "tests").rglob("*.py"))
    assert len([f for f in files if f.name.startswith("test_")]) > 50, "the walk is broken"
    wrong = {
        str(f.relative_to(REPO)): imported for f in files if (imported := _test_modules_imported(f))
    }
    assert wrong == {}
