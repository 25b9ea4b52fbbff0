"""The library's import contract, checked on the source (every import, lazy ones included).

* ``common`` imports neither ``prefect`` nor ``bentoml``: flows and services wire the library,
  never the reverse; the BentoML model store lives in ``jobskills.stores``.
* ``src/common`` holds subpackages only, and a subpackage imports only from itself and from
  the layers below it, never from a sibling of its own layer or from above.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src" / "common"

# lowest first; packages in one layer must not import each other
LAYERS: list[set[str]] = [
    {"core"},
    {"text", "registry"},
    {"data"},
    {"labels"},
    {"keywords", "groups", "topics"},
    {"linking"},
    {"occupations"},
    {"batch"},
    {"monitoring"},
    {"pipeline"},
    {"testing"},
]
LAYER_OF = {pkg: i for i, layer in enumerate(LAYERS) for pkg in layer}
FORBIDDEN = ("prefect", "bentoml", "flows", "services", "jobskills")


def _imports(path: Path) -> list[tuple[int, str]]:
    """(line, dotted module) of every import in ``path``; ``from common import x`` gives ``common.x``."""
    out = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module == "common":
                out += [(node.lineno, f"common.{a.name}") for a in node.names]
            else:
                out.append((node.lineno, node.module))
    return out


def _modules() -> list[Path]:
    return sorted(SRC.rglob("*.py"))


def test_src_common_has_only_subpackages():
    loose = [p.name for p in SRC.glob("*.py") if p.name != "__init__.py"]
    assert not loose, f"loose modules in src/common: {loose}"
    packages = {p.name for p in SRC.iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    assert packages == set(LAYER_OF), packages ^ set(LAYER_OF)


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(SRC)))
def test_imports_go_down_only(path):
    rel = path.relative_to(SRC)
    own = rel.parts[0] if len(rel.parts) > 1 else None
    for line, module in _imports(path):
        top = module.split(".")[0]
        assert top not in FORBIDDEN, f"{rel}:{line} imports {module}: the library must not import {top}"
        if top != "common" or own is None or module == "common.__version__":
            continue
        target = module.split(".")[1]
        if target == own:
            continue
        assert target in LAYER_OF, f"{rel}:{line} imports {module}: no such subpackage"
        assert LAYER_OF[target] < LAYER_OF[own], (
            f"{rel}:{line} imports {module}: {own} (layer {LAYER_OF[own]}) may only import from lower layers, "
            f"not {target} (layer {LAYER_OF[target]})")


def test_the_contract_catches_a_violation(tmp_path):
    """The checker itself: an upward import and a BentoML import are both found."""
    bad = tmp_path / "bad.py"
    bad.write_text("import bentoml\n\ndef f():\n    from common.pipeline.config import PipelineConfig\n")
    assert [m for _, m in _imports(bad)] == ["bentoml", "common.pipeline.config"]


def test_no_library_module_holds_a_whole_area():
    """A module over 500 lines holds several ideas: split it along its sections (a room per concern)."""
    root = Path(__file__).resolve().parents[2] / "src" / "common"
    long = {str(p.relative_to(root)): n for p in root.rglob("*.py")
            if (n := len(p.read_text(encoding="utf-8").splitlines())) > 500}
    assert not long, long
