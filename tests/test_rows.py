"""The bench row is typed once (``eval/row.py``): every key the report, the bench and the demo read off a row is a
field of ``BenchRow``, a modality's declared figure (or its interval), or a strategy's sampling option."""

import ast
from pathlib import Path

import genstrat
from genstrat.eval.row import ROW_FIELDS
from genstrat.modalities import MODALITIES
from genstrat.strategies import STRATEGIES, strategy_class

PACKAGE = Path(genstrat.__file__).parent
# where bench rows are read (decode_floor, throughput and tune keep rows of their own kinds)
READERS = [*sorted((PACKAGE / "reporting").glob("*.py")), *sorted((PACKAGE / "modalities").glob("*.py")),
           PACKAGE / "benchmark" / "run.py", PACKAGE / "benchmark" / "students.py",
           PACKAGE / "benchmark" / "stage_one.py", PACKAGE / "demo.py"]
ROW_NAMES = {"r", "row"}
ROW_FINDERS = {"row", "best"}  # the demo's helpers that return a row


def declared() -> set[str]:
    keys = set(ROW_FIELDS)
    for modality in MODALITIES.values():
        keys |= {key for key, _ in modality.columns} | set(modality.quality_keys)
    for name in STRATEGIES:
        keys |= {option.name for option in strategy_class(name).options}
    return keys | {f"{key}_ci" for key in keys}


def keys_read(source: str) -> dict[str, int]:
    """Row keys read in ``source``: ``r["k"]``, ``row.get("k")`` and the same on names bound to ``row(...)`` or
    ``best(...)`` -> the line of the first read."""
    tree = ast.parse(source)
    names = set(ROW_NAMES)
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and isinstance(node.value, (ast.Call, ast.Tuple)):
            values = node.value.elts if isinstance(node.value, ast.Tuple) else [node.value]
            targets = node.targets[0].elts if isinstance(node.targets[0], ast.Tuple) else node.targets
            for target, value in zip(targets, values):
                if isinstance(target, ast.Name) and isinstance(value, ast.Call) and \
                        isinstance(value.func, ast.Name) and value.func.id in ROW_FINDERS:
                    names.add(target.id)
    found = {}
    for node in ast.walk(tree):
        key = None
        if isinstance(node, ast.Subscript) and isinstance(node.value, ast.Name) and node.value.id in names \
                and isinstance(node.slice, ast.Constant) and isinstance(node.slice.value, str):
            key = node.slice.value
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "get" \
                and isinstance(node.func.value, ast.Name) and node.func.value.id in names and node.args \
                and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str):
            key = node.args[0].value
        if key is not None:
            found.setdefault(key, node.lineno)
    return found


def test_every_row_key_read_is_declared_once():
    known, undeclared = declared(), {}
    for path in READERS:
        for key, line in keys_read(path.read_text()).items():
            if key not in known:
                undeclared[f"{path.relative_to(PACKAGE.parent)}:{line}"] = key
    assert undeclared == {}


def test_the_check_catches_a_misspelt_key():
    source = "def f(rows):\n    ar = row(rows, 'ar')\n    return ar['latency_b1'] + ar['nfe']\n"
    assert keys_read(source) == {"latency_b1": 3, "nfe": 3}
    assert "latency_b1" not in declared() and "nfe" in declared()
