"""Production code stands alone in the package: no module outside
``pmemtrack/sandbox/`` imports the sandbox (simulated tools, loopback sshd,
embedded deployment, demo), except the ``pmemtrack`` CLI, which offers the
embedded default and the demo; none imports the tests; and the layers import
downward only: cmd -> compute -> resource_tracker -> objects -> db,
compute -> virt, nova -> virt (never nova -> resource_tracker: inside Nova,
Nova's own tracker owns the assignment)."""

import ast
import graphlib
import pathlib

import pmemtrack

PACKAGE = pathlib.Path(pmemtrack.__file__).parent
SANDBOX = "pmemtrack.sandbox"
# The one production module that may start the sandbox: ``pmemtrack demo``
# and every command without a config file run on the embedded default.
ALLOWED = {"pmemtrack/cmd/client.py"}


def _imports(path):
    tree = ast.parse(path.read_text(), str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            yield node.module
            yield from (f"{node.module}.{alias.name}" for alias in node.names)


def _production_modules():
    for path in sorted(PACKAGE.rglob("*.py")):
        relative = path.relative_to(PACKAGE.parent).as_posix()
        if not relative.startswith("pmemtrack/sandbox/"):
            yield relative, path


def test_no_production_module_imports_the_sandbox():
    arrows = {
        relative: sorted({name for name in _imports(path)
                          if name == SANDBOX or name.startswith(SANDBOX + ".")})
        for relative, path in _production_modules()
    }  # fmt: skip
    into_sandbox = {module: names for module, names in arrows.items() if names}

    assert set(into_sandbox) <= ALLOWED, into_sandbox


# What each layer must never import: the layers above it, and (for virt and
# nova) the tracker's side, which inside Nova is Nova's own.
ABOVE = ("cmd", "deployment", "sandbox")
NEVER = {
    "db": ("objects", "resource_tracker", "compute", "virt", "nova", *ABOVE),
    "objects": ("resource_tracker", "compute", "virt", "nova", *ABOVE),
    "resource_tracker": ("compute", "virt", "nova", *ABOVE),
    "virt": ("objects", "resource_tracker", "compute", "nova", *ABOVE),
    "nova": ("objects", "resource_tracker", "compute", *ABOVE),
    "compute": ("nova", *ABOVE),
}


def _layer(dotted):
    parts = dotted.split(".")
    return parts[1] if parts[0] == "pmemtrack" and len(parts) > 2 else None


def test_no_production_module_imports_the_tests():
    arrows = {
        relative: names
        for relative, path in _production_modules()
        if (names := sorted(n for n in _imports(path) if n.split(".")[0] == "tests"))
    }

    assert arrows == {}


def test_layers_import_downward_only():
    upward = {}
    for relative, path in _production_modules():
        layer = _layer(relative.removesuffix(".py").replace("/", "."))
        forbidden = NEVER.get(layer, ())
        names = sorted({n for n in _imports(path) if _layer(n + ".x") in forbidden})
        if names:
            upward[relative] = names

    assert upward == {}


def test_the_data_mover_imports_one_way_and_only_the_exceptions():
    package = "pmemtrack.virt.datamover"
    graph, outside = {}, {}
    for path in (PACKAGE / "virt" / "datamover").glob("*.py"):
        names = set(_imports(path))
        graph[path.stem] = {
            n.split(".")[3] for n in names if n.startswith(package + ".")
        } - {path.stem}
        outside[path.stem] = sorted(
            n for n in names
            if n.startswith("pmemtrack.") and not n.startswith(package)
            and n.split(".")[1] != "exception"
        )  # fmt: skip

    # A cycle raises graphlib.CycleError naming the modules on it; the order
    # lists what a module imports before it.
    order = list(graphlib.TopologicalSorter(graph).static_order())
    assert order.index("remote_process") < order.index("ssh") < order.index("mover")
    assert {module: names for module, names in outside.items() if names} == {}


def test_the_sandbox_holds_the_stand_ins():
    names = {path.name for path in (PACKAGE / "sandbox").glob("*.py")}

    assert {"simulated.py", "simulated_tools.py", "loopback_sshd.py",
            "embedded.py", "demo.py"} <= names  # fmt: skip
    assert not (PACKAGE / "virt" / "libvirt" / "fakelibvirt.py").exists()
