"""The tree shows the architecture and keeps it: folders and files of a readable size, layers that import only
downwards, no import cycles, and page handlers that name their outputs instead of matching them by position."""

from __future__ import annotations

import ast
import functools
import inspect
import textwrap
from collections import Counter
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SOURCE = sorted(p for p in ROOT.rglob("*.py")
                if p.relative_to(ROOT).parts[0] not in ("tests", "bench") and not any(
                    part.startswith(".") or part in ("build", "venv", "node_modules")
                    for part in p.relative_to(ROOT).parts))
MOST_FILES_IN_A_FOLDER = 12
MOST_LINES_IN_A_FILE = 400
MOST_POSITIONAL_VALUES = 8

LAYERS = {
    "reward.config": set(),
    "reward.model": {"reward.config"},
    "reward.tables": {"reward.config"},
    "reward.insight": {"reward.config", "reward.model", "reward.tables"},
    "reward.jobs": {"reward.config", "reward.model", "reward.tables", "reward.insight"},
    "reward.service": {"reward.config", "reward.model", "reward.tables", "reward.insight"},
    "reward.lineup": {"reward.config", "reward.model", "reward.insight", "reward.service"},
    "reward.cli_texts": {"reward.config", "reward.model", "reward.tables", "reward.insight"},
    "reward.cli": {"reward.config", "reward.model", "reward.tables", "reward.insight", "reward.jobs", "reward.cli_texts"},
    "reward.__main__": {"reward.cli"},
    "reward": {"reward.config", "reward.model", "reward.insight", "reward.service"},
}
"""What each part of ``reward/`` may import from the rest of ``reward/`` (itself always): lower layers only."""
UI_TABS = ("ui.compare", "ui.files", "ui.models")
"""The page's tabs: each may import what the page shares (``ui.page``, ``ui.text``, ``ui.charts``), never another
tab."""


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES = {module_name(p): p for p in SOURCE}


def imports_of(path: Path) -> set[str]:
    """The project modules ``path`` imports anywhere in it (function-level imports too), resolved to modules."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, *([base] if base else [])])
            # `from package import module` imports the module; `from module import name`, the module
            targets = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in MODULES else base for alias in node.names]
        else:
            continue
        found.update(t for t in targets if t in MODULES or t.split(".")[0] in ("gradio",))
    found.discard(name)
    return found


GRAPH = {name: imports_of(path) for name, path in MODULES.items()}


def part_of(module: str) -> str:
    """The layer a module of ``reward/`` belongs to (the longest key of LAYERS it falls under)."""
    keys = [k for k in LAYERS if module == k or module.startswith(k + ".")]
    return max(keys, key=len)


def test_no_folder_of_source_holds_more_than_twelve_python_files():
    counts = Counter(str(p.parent.relative_to(ROOT)) for p in SOURCE)
    crowded = {folder: n for folder, n in counts.items() if n > MOST_FILES_IN_A_FOLDER}
    assert not crowded, f"group these folders' files by job into subpackages: {crowded}"


def test_no_source_file_is_over_four_hundred_lines():
    lines = {str(p.relative_to(ROOT)): len(p.read_text().splitlines()) for p in SOURCE}
    long = {name: n for name, n in lines.items() if n > MOST_LINES_IN_A_FILE}
    assert not long, f"split these files by job: {long}"


def test_every_subpackage_says_what_lives_there():
    packages = [p for p in SOURCE if p.name == "__init__.py"]
    assert {module_name(p) for p in packages} >= {"reward", "reward.model", "reward.tables", "reward.insight",
                                                  "reward.jobs", "ui", "ui.compare", "ui.files"}
    silent = [str(p.relative_to(ROOT)) for p in packages if not ast.get_docstring(ast.parse(p.read_text()))]
    assert not silent, f"these packages have no docstring: {silent}"


def test_the_graph_sees_the_imports_it_should():
    """The checks below are only as good as the graph: spot-check it on imports known to exist."""
    assert "reward.model.encoding" in GRAPH["reward.model.reward_model"]
    assert "reward.tables.display" in GRAPH["reward.insight.ranking"]
    assert "reward.model.zerogpu" in GRAPH["app"]  # `from reward.model import zerogpu`
    assert "reward.tables.writing" in GRAPH["reward.tables.display"]  # imported inside a function
    assert "gradio" in GRAPH["ui.page"]


def test_reward_never_imports_gradio_or_the_page():
    offenders = {m: sorted(t for t in GRAPH[m] if t == "gradio" or t.startswith(("ui", "app")))
                 for m in GRAPH if m.split(".")[0] == "reward"}
    offenders = {m: t for m, t in offenders.items() if t}
    assert not offenders, f"reward/ is plain Python that knows nothing of Gradio or the page: {offenders}"


def test_each_layer_of_reward_imports_only_the_layers_below_it():
    wrong = []
    for module, targets in GRAPH.items():
        if module.split(".")[0] != "reward":
            continue
        mine = part_of(module)
        for target in targets:
            if target.split(".")[0] != "reward":
                continue
            theirs = part_of(target)
            if theirs != mine and theirs not in LAYERS[mine]:
                wrong.append(f"{module} imports {target} ({mine} may import only {sorted(LAYERS[mine]) or 'none'})")
    assert not wrong, "\n".join(wrong)


def test_no_tab_imports_another_tab():
    wrong = [f"{m} imports {t}" for m, targets in GRAPH.items() for t in targets
             for tab in UI_TABS if (m == tab or m.startswith(tab + ".")) and t.startswith("ui.")
             and not (t == tab or t.startswith(tab + ".")) and t.startswith(UI_TABS)]
    shared_parts = [m for m in GRAPH if m.startswith("ui.") and not m.startswith(UI_TABS)]
    wrong += [f"{m} (shared by the page) imports the tab {t}" for m in shared_parts for t in GRAPH[m]
              if t.startswith(UI_TABS)]
    assert not wrong, "\n".join(wrong)


def test_there_are_no_import_cycles():
    cycles = []
    state: dict[str, int] = {}  # 1: on the current path, 2: done

    def visit(module: str, path: list[str]) -> None:
        state[module] = 1
        for target in sorted(GRAPH.get(module, ())):
            if target not in GRAPH:
                continue
            if state.get(target) == 1:
                cycles.append(" -> ".join([*path[path.index(target):], target]))
            elif target not in state:
                visit(target, [*path, target])
        state[module] = 2

    for module in sorted(GRAPH):
        if module not in state:
            visit(module, [module])
    assert not cycles, "import cycles:\n" + "\n".join(cycles)


# -- handlers name their outputs

def a_panels_components(node: ast.expr) -> bool:
    """``self.a``, or ``*self.b``: a panel naming its own components (an outputs list), not values for them."""
    if isinstance(node, ast.Starred):
        node = node.value
    return isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "self"


def positional_values(node: ast.expr) -> int | None:
    """How many values a returned or yielded expression matches by position: a tuple or list literal (a starred part
    counts as unbounded, as does ``[...] * n``); None for anything else (a dict, a single value, a call, or a list of
    a panel's own components)."""
    if isinstance(node, (ast.Tuple, ast.List)) and node.elts and all(a_panels_components(e) for e in node.elts):
        return None
    if isinstance(node, (ast.Tuple, ast.List)):
        if any(isinstance(e, ast.Starred) for e in node.elts):
            return 10**9
        return len(node.elts)
    if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Mult, ast.Add)) and (
            isinstance(node.left, (ast.Tuple, ast.List)) or isinstance(node.right, (ast.Tuple, ast.List))):
        return 10**9
    return None


def own_returns(function: ast.AST):
    """The return and yield values of ``function`` itself (``yield from`` included), not of the functions defined
    inside it."""
    stack = list(ast.iter_child_nodes(function))
    while stack:
        node = stack.pop()
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)):
            continue
        if isinstance(node, (ast.Return, ast.Yield, ast.YieldFrom)) and node.value is not None:
            yield node
        stack.extend(ast.iter_child_nodes(node))


PAGE_CODE = [p for p in SOURCE if p.relative_to(ROOT).parts[0] == "ui" or p.name == "app.py"]


@pytest.mark.parametrize("path", PAGE_CODE, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_page_function_returns_more_than_eight_values_by_position(path):
    tree = ast.parse(path.read_text())
    wrong = []
    for function in ast.walk(tree):
        if not isinstance(function, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            continue
        body = [function.body] if isinstance(function, ast.Lambda) else None
        values = ([ast.Return(value=function.body, lineno=function.lineno)] if body else list(own_returns(function)))
        for node in values:
            n = positional_values(node.value)
            if n is not None and n > MOST_POSITIONAL_VALUES:
                wrong.append(f"line {node.lineno}: {'an unbounded number of' if n == 10**9 else n} values")
    assert not wrong, f"{path.name}: return a dict keyed by component instead: {wrong}"


def test_the_rule_catches_what_it_should():
    """The checker itself: it flags a long tuple, a starred one and a repeated list, and passes a dict."""
    code = textwrap.dedent("""
        def long(): return 1, 2, 3, 4, 5, 6, 7, 8, 9
        def starred(): return 1, *boxes
        def repeated(): return [None] * 12
        def named(): return {a: 1, b: 2}
        def components(self): return [self.a, self.b, self.c, self.d, self.e, self.f, self.g, self.h, *self.i]
        def mixed(self): return [self.a, self.b, self.c, self.d, self.e, self.f, self.g, self.h, None]
        def inner():
            def helper(): return 1, 2, 3, 4, 5, 6, 7, 8, 9, 10
            return {a: helper()}
    """)
    tree = ast.parse(code)
    counts = {f.name: [positional_values(r.value) for r in own_returns(f)]
              for f in tree.body if isinstance(f, ast.FunctionDef)}
    assert counts["long"] == [9] and counts["starred"] == [10**9] and counts["repeated"] == [10**9]
    assert counts["named"] == [None] and counts["inner"] == [None] and counts["components"] == [None]
    assert counts["mixed"] == [9]


def handler(fn):
    """The function an event calls (through partials and wrappers)."""
    while isinstance(fn, functools.partial):
        fn = fn.func
    fn = inspect.unwrap(fn)
    assert fn.__name__ != "<lambda>", f"{fn}: an event with many outputs needs a named handler, not a lambda"
    return fn


def callee_of(call: ast.Call, fn):
    """The function ``call`` calls, as ``fn`` sees it (a global or closure name, or a method of one), or None."""
    seen = inspect.getclosurevars(fn)
    names = {**seen.globals, **seen.nonlocals}
    if isinstance(call.func, ast.Attribute) and isinstance(call.func.value, ast.Name):
        return getattr(names.get(call.func.value.id), call.func.attr, None)
    if isinstance(call.func, ast.Name):
        return names.get(call.func.id)
    return None


def answers_by_name(node: ast.AST, fn) -> bool:
    """A returned or yielded expression is a dict keyed by component: a dict literal, ``gr.skip()``, ``dict(...)``, or a
    call of a function the handler sees annotated to return a dict; ``yield from`` a generator whose own yields are
    such."""
    value = node.value
    if isinstance(node, ast.YieldFrom):
        callee = callee_of(value, fn) if isinstance(value, ast.Call) else None
        if callee is None:
            return False
        inner = ast.parse(textwrap.dedent(inspect.getsource(callee))).body[0]
        return all(answers_by_name(n, callee) for n in own_returns(inner))
    if isinstance(value, ast.Dict):
        return True
    if not isinstance(value, ast.Call):
        return False
    if ast.unparse(value.func) in ("gr.skip", "dict"):  # a copy of a dict is a dict
        return True
    callee = callee_of(value, fn)
    return callee is not None and inspect.signature(callee).return_annotation in (dict, "dict")


def test_events_with_more_than_eight_outputs_are_answered_by_name(tiny_settings):
    """Every event of the built page with more than eight outputs has a handler that returns a dict keyed by
    component (or ``gr.skip()``), never values matched to its outputs by position."""
    import app
    from reward.service import RewardService

    demo = app.build_demo(RewardService(tiny_settings))
    many = [f for f in demo.fns.values() if f.fn is not None and len(f.outputs) > MOST_POSITIONAL_VALUES]
    assert len(many) >= 5, "the Compare tab's score, clear, remove, example and link events have many outputs"
    wrong = []
    for block_fn in many:
        fn = handler(block_fn.fn)
        function = ast.parse(textwrap.dedent(inspect.getsource(fn))).body[0]
        returned = list(own_returns(function))
        assert returned, f"{fn.__name__} returns nothing"
        wrong += [f"{fn.__name__} ({len(block_fn.outputs)} outputs), line {node.lineno}: returns "
                  f"{ast.unparse(node.value)[:60]}" for node in returned if not answers_by_name(node, fn)]
    assert not wrong, "return a dict keyed by component:\n" + "\n".join(wrong)
