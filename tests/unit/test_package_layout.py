"""Production code stands alone in the package: no module outside
``pmemtrack/sandbox/`` imports the sandbox (simulated tools, loopback sshd,
embedded deployment, demo), except the ``pmemtrack`` CLI, which offers the
embedded default and the demo."""

import ast
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


def test_the_sandbox_holds_the_stand_ins():
    names = {path.name for path in (PACKAGE / "sandbox").glob("*.py")}

    assert {"simulated.py", "simulated_tools.py", "loopback_sshd.py",
            "embedded.py", "demo.py"} <= names  # fmt: skip
    assert not (PACKAGE / "virt" / "libvirt" / "fakelibvirt.py").exists()
