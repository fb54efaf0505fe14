"""Imports point one way: edges (web, api, webhooks, cli, jobs) -> domain -> models/db.
The domain never imports flask, and models never import the domain."""
import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "smscrm"
EDGE_MODULES = {"__init__", "webhooks", "cli", "jobs", "simulator"}
EDGE_PACKAGES = {"web", "api"}


def imports_of(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def modules(where: Path):
    for path in sorted(where.rglob("*.py")):
        relative = path.relative_to(PACKAGE)
        yield path, relative.parts[0].removesuffix(".py"), relative


def is_edge(top: str) -> bool:
    return top in EDGE_MODULES or top in EDGE_PACKAGES


def test_domain_never_imports_flask_or_edges():
    offenders = []
    for path, top, relative in modules(PACKAGE):
        if is_edge(top):
            continue
        for name in imports_of(path):
            root = name.split(".")[0]
            parts = name.split(".")
            if root in ("flask", "flask_wtf", "flask_login", "werkzeug") or (
                root == "smscrm" and len(parts) > 1 and is_edge(parts[1])
            ):
                offenders.append(f"{relative} imports {name}")
    assert offenders == []


def test_models_import_only_models_and_db():
    offenders = [
        f"{relative} imports {name}"
        for path, _top, relative in modules(PACKAGE / "models")
        for name in imports_of(path)
        if name.startswith("smscrm.") and not name.startswith(("smscrm.models", "smscrm.db"))
    ]
    assert offenders == []


SQLALCHEMY_INTERNALS = {"_has_events", "positiontup", "escaped_bind_names"}  # of connections and compiled statements


def test_only_public_sqlalchemy_apis():
    """No import of SQLAlchemy's private modules or names, no use of the internals statement execution reads."""
    offenders = []
    for path, _top, relative in modules(PACKAGE):
        offenders += [
            f"{relative} imports {name}" for name in imports_of(path)
            if name.split(".")[0] == "sqlalchemy" and any(part.startswith("_") for part in name.split("."))
        ]
        offenders += [
            f"{relative} uses .{node.attr}" for node in ast.walk(ast.parse(path.read_text()))
            if isinstance(node, ast.Attribute) and node.attr in SQLALCHEMY_INTERNALS
        ]
    assert offenders == []


TESTS = PACKAGE.parent / "tests"


def test_tests_use_only_public_names_of_smscrm():
    """A test states outcomes through a module's public functions: no `_name` of smscrm is imported or reached."""
    offenders = []
    for path in sorted(TESTS.rglob("*.py")):
        tree, relative = ast.parse(path.read_text()), path.relative_to(TESTS)
        ours = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("smscrm"):
                offenders += [f"{relative} imports {node.module}.{a.name}" for a in node.names if a.name.startswith("_")]
                ours.update(a.asname or a.name for a in node.names)
            elif isinstance(node, ast.Import):
                ours.update((a.asname or a.name).split(".")[0] for a in node.names if a.name.startswith("smscrm"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and node.attr.startswith("_") and not node.attr.startswith("__"):
                base = node.value
                while isinstance(base, ast.Attribute):
                    base = base.value
                if isinstance(base, ast.Name) and base.id in ours:
                    offenders.append(f"{relative}:{node.lineno} reaches {base.id}.….{node.attr}")
    assert offenders == []
