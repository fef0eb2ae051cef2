"""The package's layout rules, checked by walking every import (module-level and inside functions).

- each folder is a stage of the data flow; a module imports only from its own stage or lower ones
  (``STAGES``), so no arrow runs back up and the core never imports the CLI;
- no ``_private`` name is imported across folders;
- no import cycle among modules (module-level imports);
- no module over 500 lines;
- ``import tsbudget`` and the CLI's start-up load none of the heavy libraries.
"""

from __future__ import annotations

import ast
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("tsbudget", "units", "costmodels")

# Stage of each top-level place, low to high: a module may import from its own stage or lower.
CORE = 0
STAGES = {
    "tsbudget.errors": CORE, "tsbudget.variables": CORE, "tsbudget.tables": CORE, "tsbudget.law": CORE,
    "tsbudget.cost_model": CORE, "tsbudget.data_unit": CORE, "tsbudget.registry": CORE,
    "tsbudget.hardware": CORE, "tsbudget.report": CORE, "tsbudget.io": CORE, "tsbudget.lazy": CORE,
    "tsbudget.percentiles": CORE, "tsbudget.order_statistics": CORE, "tsbudget.resampling": CORE,
    "tsbudget.plugin_calls": CORE,
    "tsbudget.roofline": CORE, "tsbudget.batch_search": CORE, "tsbudget.workload": CORE,
    "tsbudget.roofline_report": CORE,
    "units": 1, "costmodels": 1,  # plugins: they see only the core
    "tsbudget.datasets": 2, "tsbudget.timeseries": 2,
    "tsbudget.laws": 3,
    "tsbudget.optim": 4,
    "tsbudget.fitting": 5,
    "tsbudget.uncertainty": 6,
    "tsbudget.planning": 7,
    "tsbudget.comparisons": 8, "tsbudget.sweeps": 8, "tsbudget.plotting": 8,
    "tsbudget.testing": 9,
    "tsbudget.cli": 10,
    "tsbudget": 11,  # the package __init__: re-exports everything
}


def stage_of(module: str) -> int:
    parts = module.split(".")
    for i in range(len(parts), 0, -1):
        if ".".join(parts[:i]) in STAGES:
            return STAGES[".".join(parts[:i])]
    raise AssertionError(f"module {module} has no stage in tests/test_layout.py::STAGES; add it")


def modules():
    for pkg in PACKAGES:
        for path in sorted((ROOT / pkg).rglob("*.py")):
            rel = path.relative_to(ROOT).with_suffix("")
            parts = rel.parts[:-1] if rel.name == "__init__" else rel.parts
            yield ".".join(parts), path


def imports(module: str, path: Path):
    """``(imported module, names, line, at module level)`` for every import of our packages."""
    tree = ast.parse(path.read_text())
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    top_level = {id(node) for node in tree.body}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            names = [a.name for a in node.names]
        elif isinstance(node, ast.Import):
            base, names = None, []
        else:
            continue
        if base is None:
            found = [(a.name, []) for a in node.names]
        else:  # "from tsbudget import tables" imports the module tsbudget.tables
            found = [(f"{base}.{n}", []) if f"{base}.{n}" in KNOWN else (base, [n]) for n in names]
        for target, imported in found:
            if target.split(".")[0] in PACKAGES:
                yield target, imported, node.lineno, id(node) in top_level


ALL = list(modules())
KNOWN = {m for m, _ in ALL}


@pytest.mark.parametrize("module,path", ALL, ids=[m for m, _ in ALL])
def test_imports_never_run_back_up_the_data_flow(module, path):
    here = stage_of(module)
    for target, _, line, _ in imports(module, path):
        assert stage_of(target) <= here, (
            f"{path.relative_to(ROOT)}:{line} imports {target} (stage {stage_of(target)}) "
            f"from stage {here}: a module imports only from its own stage or lower ones"
        )


@pytest.mark.parametrize("module,path", ALL, ids=[m for m, _ in ALL])
def test_no_private_name_imported_across_folders(module, path):
    folder = module.rpartition(".")[0] if path.name != "__init__.py" else module
    for target, names, line, _ in imports(module, path):
        target_folder = target.rpartition(".")[0]
        for name in names:
            if name.startswith("_") and not name.startswith("__") and target_folder != folder:
                pytest.fail(f"{path.relative_to(ROOT)}:{line} imports private {target}.{name} from another folder")


@pytest.mark.parametrize("module,path", ALL, ids=[m for m, _ in ALL])
def test_module_is_at_most_500_lines(module, path):
    n = len(path.read_text().splitlines())
    assert n <= 500, f"{path.relative_to(ROOT)} has {n} lines; one concept per module, 500 at most"


def test_no_import_cycles():
    graph: dict[str, set[str]] = {}
    for module, path in ALL:
        deps = graph.setdefault(module, set())
        for target, names, _, top in imports(module, path):
            if not top:
                continue
            for candidate in [f"{target}.{n}" for n in names] + [target]:
                if candidate in KNOWN and candidate != module:
                    deps.add(candidate)
                    break
    # a package's __init__ importing its own submodules is not a cycle with them
    for module in graph:
        graph[module] = {d for d in graph[module] if not module.startswith(d + ".")}
    state: dict[str, int] = {}

    def visit(node, trail):
        state[node] = 1
        for dep in sorted(graph.get(node, ())):
            if state.get(dep) == 1:
                cycle = trail[trail.index(dep):] + [dep] if dep in trail else [node, dep]
                pytest.fail("import cycle: " + " -> ".join(cycle))
            if dep not in state:
                visit(dep, trail + [dep])
        state[node] = 2

    for module in sorted(graph):
        if module not in state:
            visit(module, [module])


HEAVY = ("polars", "xarray", "pandas", "matplotlib", "scipy.optimize", "scipy")


def loaded_after(code: str) -> list[str]:
    probe = textwrap.dedent(code) + textwrap.dedent(
        f"""
        import sys
        print("loaded:" + ",".join(m for m in {HEAVY!r} if m in sys.modules))
        """
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True, cwd=ROOT)
    last = out.stdout.strip().splitlines()[-1]
    assert last.startswith("loaded:"), out.stdout
    return [m for m in last.removeprefix("loaded:").split(",") if m]


def test_import_tsbudget_loads_no_heavy_library():
    assert loaded_after("import tsbudget; tsbudget.__all__; tsbudget.TsbudgetError") == []


def test_public_names_still_import_from_the_top_level():
    code = "import tsbudget\nfor name in tsbudget.__all__: getattr(tsbudget, name)\nprint('ok')"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"


def test_cli_help_loads_neither_numpy_nor_heavy_libraries():
    code = """
    import contextlib, io, sys
    from tsbudget.cli.main import cli
    with contextlib.redirect_stdout(io.StringIO()):
        cli.main(args=["--help"], prog_name="tsbudget", standalone_mode=False)
    assert "numpy" not in sys.modules, "numpy loaded by --help"
    """
    assert loaded_after(code) == []


def test_a_plan_from_the_cli_loads_no_heavy_library():
    code = """
    import contextlib, io
    from tsbudget.cli.main import cli
    with contextlib.redirect_stdout(io.StringIO()):
        cli.main(args=["plan", "--budget", "1e21"], prog_name="tsbudget", standalone_mode=False)
    """
    assert loaded_after(code) == []
