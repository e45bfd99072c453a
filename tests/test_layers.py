"""The layers of portal/domains.py, enforced on every import in portal/ (inside functions too: an import
moved into a function still couples two domains)."""
from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

import pytest

from portal.domains import DOMAINS, LAYERS

PORTAL = Path(__file__).resolve().parent.parent / "portal"

#: Modules below every domain.
CORE = {"core", "extensions", "signals"}
#: The composition root: builds the app and the processes from the domains, so it may import any of them.
ROOT = {"__init__", "domains", "cron", "cli", "devserver"}

#: A domain's models are its own; another domain reaches them through its services. The exceptions: the
#: organisation and the process list are what every record hangs off (foreign keys, joins, relationships).
#: Models every record may refer to: users and departments, processes, and controlled documents (training and
#: corrective actions are about documents: their queries join the register, so it is shared, read-only by rule).
SHARED_MODELS = {"portal.org.models", "portal.processes.models", "portal.sop.models"}


def _unit(module: str) -> str | None:
    """The layering unit of ``portal.x.y``: a domain name, "core", "root", or None for non-portal modules."""
    parts = module.split(".")
    if parts[0] != "portal":
        return None
    if len(parts) == 1 or parts[1] in ROOT:
        return "root"
    if parts[1] in CORE:
        return "core"
    return parts[1]


def _module_name(path: Path) -> str:
    rel = path.relative_to(PORTAL.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports(path: Path) -> list[tuple[int, str]]:
    """(line, imported module) for every import of a portal module in ``path``."""
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            if node.module != "portal":  # ``from portal import __version__`` is not an import of the root
                found.append((node.lineno, node.module))
            # ``from portal import signals`` imports the module portal.signals
            if node.module == "portal":
                found += [(node.lineno, f"portal.{alias.name}") for alias in node.names
                          if (PORTAL / alias.name).is_dir() or (PORTAL / f"{alias.name}.py").exists()]
    return [(line, name) for line, name in found if name.startswith("portal.") or name == "portal"]


def _all_imports() -> list[tuple[str, int, str]]:
    out = []
    for path in sorted(PORTAL.rglob("*.py")):
        source = _module_name(path)
        out += [(source, line, target) for line, target in _imports(path)]
    return out


LAYER_OF = {name: index for index, layer in enumerate(LAYERS, start=1) for name in layer}
LAYER_OF["core"] = 0


def test_every_domain_package_is_in_the_list_and_has_hooks():
    packages = {p.name for p in PORTAL.iterdir() if (p / "__init__.py").exists()} - CORE - {"translations"}
    assert packages == set(DOMAINS), "every domain package is listed once in portal/domains.py LAYERS"
    assert len(DOMAINS) == len(set(DOMAINS))
    for name in DOMAINS:
        assert (PORTAL / name / "hooks.py").exists(), f"portal/{name}/hooks.py declares what {name} contributes"


def test_no_domain_imports_a_higher_layer():
    wrong = []
    for source, line, target in _all_imports():
        src, dst = _unit(source), _unit(target)
        if src in (None, "root") or dst in (None, "root", src):
            if dst == "root" and src not in (None, "root"):
                wrong.append(f"{source}:{line} imports the composition root {target}")
            continue
        if LAYER_OF[dst] > LAYER_OF[src]:
            wrong.append(f"{source}:{line} imports {target} (layer {LAYER_OF[dst]} above {src}'s {LAYER_OF[src]})")
    assert not wrong, "\n".join(wrong)


def test_no_cycle_between_domain_packages():
    graph: dict[str, set[str]] = defaultdict(set)
    for source, _line, target in _all_imports():
        src, dst = _unit(source), _unit(target)
        if src not in (None, "root") and dst not in (None, "root") and src != dst:
            graph[src].add(dst)

    cycles = []

    def visit(node: str, path: list[str], on_path: set[str], done: set[str]) -> None:
        on_path.add(node)
        path.append(node)
        for nxt in sorted(graph[node]):
            if nxt in on_path:
                cycles.append(" → ".join(path[path.index(nxt):] + [nxt]))
            elif nxt not in done:
                visit(nxt, path, on_path, done)
        path.pop()
        on_path.discard(node)
        done.add(node)

    done: set[str] = set()
    for node in sorted(graph):
        if node not in done:
            visit(node, [], set(), done)
    assert not cycles, "import cycles between packages:\n" + "\n".join(cycles)


def test_no_domain_reaches_into_another_domains_models():
    wrong = []
    for source, line, target in _all_imports():
        src, dst = _unit(source), _unit(target)
        if src in (None, "root", "core") or dst in (None, "root", "core", src):
            continue
        if target.endswith(".models") and target not in SHARED_MODELS:
            wrong.append(f"{source}:{line} imports {target}: ask {dst}'s services instead")
    assert not wrong, "\n".join(wrong)


@pytest.mark.parametrize("rule", ["higher layer", "cycle", "models"])
def test_the_checks_catch_what_they_are_for(rule, monkeypatch):
    """Each check fails on a planted violation (so a green run means something)."""
    planted = {
        "higher layer": [("portal.org.services", 1, "portal.policy.services")],
        "cycle": [("portal.policy.services", 1, "portal.objectives.services"),
                  ("portal.objectives.services", 1, "portal.policy.services")],
        "models": [("portal.policy.services", 1, "portal.notify.models")],
    }[rule]
    check = {"higher layer": test_no_domain_imports_a_higher_layer, "cycle": test_no_cycle_between_domain_packages,
             "models": test_no_domain_reaches_into_another_domains_models}[rule]
    monkeypatch.setattr(__import__(__name__, fromlist=["_all_imports"]), "_all_imports", lambda: planted)
    with pytest.raises(AssertionError):
        check()
