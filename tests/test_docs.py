"""The documentation is executable and complete.

* Every ```python block of README.md and docs/*.md runs (each in a fresh namespace, from the
  repository root), so the examples cannot rot.
* Every field of every pydantic model of the scenario schema is named in docs/scenario.md, so
  the reference cannot go stale.
"""

from __future__ import annotations

import linecache
import re
from pathlib import Path

import pytest
from pydantic import BaseModel

from iadsim import scenario as scenario_module

ROOT = Path(__file__).resolve().parents[1]
DOC_FILES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
FENCE = re.compile(r"^```python[ \t]*\n(.*?)^```[ \t]*$", re.MULTILINE | re.DOTALL)


def _blocks() -> list[tuple[str, int, str]]:
    out = []
    for path in DOC_FILES:
        text = path.read_text(encoding="utf-8")
        for i, m in enumerate(FENCE.finditer(text)):
            out.append((path.relative_to(ROOT).as_posix(), i, m.group(1)))
    return out


BLOCKS = _blocks()


def test_docs_have_python_blocks():
    files = {f for f, _, _ in BLOCKS}
    assert "README.md" in files
    assert "docs/scenario.md" in files


@pytest.mark.parametrize(("doc", "index", "code"), BLOCKS,
                         ids=[f"{f}#{i}" for f, i, _ in BLOCKS])
def test_python_block_runs(doc: str, index: int, code: str, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.chdir(ROOT)
    name = f"<{doc} python block {index}>"
    # register the source so that a failing block's traceback shows its lines
    linecache.cache[name] = (len(code), None, code.splitlines(keepends=True), name)
    namespace = {"__name__": f"doc_block_{index}"}
    exec(compile(code, name, "exec"), namespace)  # noqa: S102


def _schema_models() -> list[type[BaseModel]]:
    """Every pydantic model of ``iadsim.scenario``: those defined there and those nested in
    ``Scenario`` (field annotations, followed recursively)."""
    seen: dict[str, type[BaseModel]] = {}

    def visit(model: type[BaseModel]) -> None:
        if model.__name__ in seen:
            return
        seen[model.__name__] = model
        for field in model.model_fields.values():
            stack = [field.annotation]
            while stack:
                ann = stack.pop()
                if isinstance(ann, type) and issubclass(ann, BaseModel):
                    visit(ann)
                stack.extend(getattr(ann, "__args__", ()))

    for obj in vars(scenario_module).values():
        if (isinstance(obj, type) and issubclass(obj, BaseModel)
                and obj.__module__ == scenario_module.__name__ and obj.model_fields):
            visit(obj)
    visit(scenario_module.Scenario)
    return [seen[k] for k in sorted(seen)]


@pytest.mark.parametrize("model", _schema_models(), ids=lambda m: m.__name__)
def test_scenario_reference_names_every_field(model: type[BaseModel]):
    text = (ROOT / "docs" / "scenario.md").read_text(encoding="utf-8")
    missing = [name for name in model.model_fields if f"`{name}`" not in text]
    assert not missing, f"docs/scenario.md does not mention {model.__name__} fields {missing}"
