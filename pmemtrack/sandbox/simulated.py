"""A PMEM host made of regular files, for hosts without PMEM hardware.

With ``[pmem] backend = simulated`` pmemtrack runs its stand-ins for ndctl,
daxctl and daxio (``simulated_tools``) instead of the real tools. They read the
world kept here under one root directory:

``root/ndctl.json``
    Every namespace, in the format of ``ndctl list -X -v`` whatever its mode;
    the ndctl stand-in filters and trims it like the real tool does.
``root/daxctl.json``
    Standalone dax devices (CXL memory, soft-reserved memory) in the format of
    ``daxctl list``. Devices behind devdax namespaces are not stored here: they
    are derived from ``ndctl.json``.
``root/faults.json``
    Faults the stand-ins inject, as a JSON array (empty or missing: none).
    ``{"flip_byte_at": N}``: every write into a device of this host leaves
    the byte at device offset N with every bit flipped, as failing media
    would; a copy's verification must catch it.
``root/dev/<chardev>``
    One sparse regular file per dax character device, exactly as large as the
    device. Namespaces in other modes and devices in system-ram mode have no
    character device, so they get no file either. They hold guest data: the
    files are 0600 and the directories this module creates 0700, whatever the
    umask.

The JSON files are replaced atomically, so a stand-in running at the same time
as a change reads either the old or the new world, never half of one.
"""

import collections
import contextlib
import fcntl
import json
import os
import tempfile
import uuid

ENV_VAR = "PMEMTRACK_SIMULATED_PATH"
NDCTL_FILE = "ndctl.json"
DAXCTL_FILE = "daxctl.json"
DEV_DIR = "dev"
FAULTS_FILE = "faults.json"
LOCK_FILE = ".lock"

# Guest data is the owner's alone, as on a real host where /dev/daxN.M is
# root's: an umask (022 by default) would leave it readable by every user.
PRIVATE_DIR = 0o700
PRIVATE_FILE = 0o600

DEFAULT_ALIGN = 2 * 1024 * 1024
NAMESPACE_MODES = ("devdax", "fsdax", "raw", "sector")
DAX_MODES = ("devdax", "system-ram")
# Standalone dax devices number their regions from here, so a CXL device never
# takes the chardev of a namespace (whose region follows its NUMA node).
STANDALONE_REGION_BASE = 10

World = collections.namedtuple("World", ["namespaces", "dax_devices"])


def _abs(root):
    return os.path.abspath(os.fspath(root))


def environment(root):
    """The environment the stand-ins need to find the world at ``root``."""
    return {ENV_VAR: _abs(root)}


def makedirs_private(path):
    """Create ``path`` and its missing parents 0700, whatever the umask.
    Returns True if ``path`` itself was created here."""
    if os.path.isdir(path):
        return False
    parent = os.path.dirname(path)
    if parent != path:
        makedirs_private(parent)
    try:
        os.mkdir(path, PRIVATE_DIR)
    except FileExistsError:
        # Made at the same moment by another process, which sets its mode.
        return False
    # mkdir's mode went through the umask, which may have kept too little.
    os.chmod(path, PRIVATE_DIR)
    return True


def ensure_root(root):
    """Create ``root`` and its device directory if they are missing."""
    makedirs_private(os.path.join(_abs(root), DEV_DIR))


def device_path(root, chardev):
    """Absolute path of the file standing in for ``/dev/<chardev>``."""
    if not chardev or os.sep in chardev or chardev in (".", ".."):
        raise ValueError(f"{chardev!r} is not a dax character device name")
    return os.path.join(_abs(root), DEV_DIR, chardev)


# -- reading and writing the world --------------------------------------------


def _read_list(root, filename):
    path = os.path.join(_abs(root), filename)
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except FileNotFoundError:
        # A world nobody has written to yet is a host without PMEM.
        return []
    if not isinstance(data, list) or not all(isinstance(e, dict) for e in data):
        raise ValueError(f"{path}: expected a JSON array of objects")
    return data


def _write_list(root, filename, entries):
    ensure_root(root)
    path = os.path.join(_abs(root), filename)
    fd, tmp = tempfile.mkstemp(prefix=f".{filename}.", dir=os.path.dirname(path))
    try:
        # mkstemp makes it private; the stand-ins may run as another user.
        os.fchmod(fd, 0o644)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(list(entries), f, indent=2)
            f.write("\n")
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def flip_written_byte_at(root, offset):
    """From now on, every write into a device of this world flips the byte
    at ``offset`` (see ``faults.json`` above)."""
    _write_list(root, FAULTS_FILE, [{"flip_byte_at": int(offset)}])


def write_faults(root):
    """The device offsets whose byte a write flips."""
    return [entry["flip_byte_at"] for entry in _read_list(root, FAULTS_FILE)
            if "flip_byte_at" in entry]  # fmt: skip


def load_namespaces(root):
    """Every namespace, as stored (``ndctl list -X -v`` entries)."""
    return _read_list(root, NDCTL_FILE)


def load_dax_devices(root):
    """The standalone dax devices, as stored (``daxctl list`` entries)."""
    return _read_list(root, DAXCTL_FILE)


def load(root):
    """The whole world at ``root`` as a ``World``; empty if nothing is there."""
    return World(load_namespaces(root), load_dax_devices(root))


def write_namespaces(root, namespaces):
    _write_list(root, NDCTL_FILE, namespaces)


def write_dax_devices(root, dax_devices):
    _write_list(root, DAXCTL_FILE, dax_devices)


@contextlib.contextmanager
def _locked(root):
    """Serialise changes: two creators must not pick the same chardev or both
    rewrite a file from the same old copy."""
    ensure_root(root)
    with open(os.path.join(_abs(root), LOCK_FILE), "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


# -- the dax devices ----------------------------------------------------------


def namespace_dax_devices(namespace):
    """The dax devices behind a namespace (none unless it is in devdax mode)."""
    if namespace.get("mode") != "devdax":
        return []
    return list((namespace.get("daxregion") or {}).get("devices") or [])


def list_dax_devices(world):
    """Every dax device of ``world`` as ``daxctl list`` shows it: those behind
    devdax namespaces first, then the standalone ones."""
    devices = []
    for namespace in world.namespaces:
        devices.extend(namespace_dax_devices(namespace))
    devices.extend(world.dax_devices)
    return devices


def _chardevs_with_files(world):
    """{chardev: size} of the devices that have a character device."""
    return {
        device["chardev"]: device["size"]
        for device in list_dax_devices(world)
        if device.get("mode", "devdax") == "devdax" and device.get("chardev")
    }


def device_size(root, path):
    """The size of the dax device at ``path``, or None if it is not one.

    A path counts only if it resolves to an existing file directly under
    ``root/dev`` that the world lists, so a symlink out of ``root/dev`` or a
    stray file dropped there is not a device.
    """
    dev_dir = os.path.realpath(os.path.join(_abs(root), DEV_DIR))
    resolved = os.path.realpath(path)
    if os.path.dirname(resolved) != dev_dir or not os.path.isfile(resolved):
        return None
    return _chardevs_with_files(load(root)).get(os.path.basename(resolved))


def is_device(root, path):
    """True if ``path`` is one of the world's dax character devices."""
    return device_size(root, path) is not None


# -- creating devices ---------------------------------------------------------


def _check_size(size, align):
    if not isinstance(align, int) or align <= 0:
        raise ValueError(f"align must be a positive number of bytes, not {align!r}")
    if not isinstance(size, int) or size <= 0 or size % align:
        raise ValueError(
            f"size must be a positive multiple of the alignment ({align} bytes), "
            f"not {size!r}"
        )


def _check_choice(what, value, choices):
    if value not in choices:
        raise ValueError(f"{what} must be one of {', '.join(choices)}, not {value!r}")


def _taken_names(world):
    """Every dev, chardev and blockdev in use, whichever file lists it."""
    taken = set()
    for namespace in world.namespaces:
        taken.update(namespace.get(key) for key in ("dev", "blockdev", "chardev"))
    taken.update(device.get("chardev") for device in list_dax_devices(world))
    taken.discard(None)
    return taken


def _next_index(taken, region, prefixes):
    """The lowest index free in ``region`` under every one of ``prefixes``."""
    index = 0
    while any(f"{prefix}{region}.{index}" in taken for prefix in prefixes):
        index += 1
    return index


def _create_device_file(root, chardev, size):
    path = device_path(root, chardev)
    # O_EXCL: an existing file means the world and dev/ disagree; never reuse it.
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC
    fd = os.open(path, flags, PRIVATE_FILE)
    try:
        # The mode went through the umask, which may have kept too little.
        os.fchmod(fd, PRIVATE_FILE)
        # Sparse: the size is reserved, no bytes are written.
        os.ftruncate(fd, size)
    finally:
        os.close(fd)
    return path


def _namespace_entry(dev, name, size, numa_node, align, mode, region, chardev):
    # Keys in the order ndctl prints them.
    entry = {"dev": dev, "mode": mode}
    if mode in ("devdax", "fsdax"):
        entry["map"] = "dev"
    entry.update(size=size, uuid=str(uuid.uuid4()), raw_uuid=str(uuid.uuid4()))
    if mode == "devdax":
        entry["daxregion"] = {
            "id": region,
            "size": size,
            "align": align,
            "devices": [
                {
                    "chardev": chardev,
                    "size": size,
                    "target_node": numa_node,
                    "align": align,
                    "mode": "devdax",
                }
            ],
        }
    else:
        # fsdax, raw and sector namespaces are block devices (/dev/pmemR.N).
        entry["blockdev"] = f"pmem{region}.{dev.rsplit('.', 1)[1]}"
        if mode == "sector":
            entry["sector_size"] = 4096
    entry["align"] = align
    if name is not None:
        entry["name"] = name
    entry.update(numa_node=numa_node, target_node=numa_node)
    return entry


def create_namespace(
    root, name, size, numa_node=0, align=DEFAULT_ALIGN, mode="devdax", region=None
):
    """Add a namespace to the world and return its ``ndctl list -X -v`` entry.

    ``name`` may be None for a namespace without a name. A devdax namespace
    gets a sparse device file ``root/dev/dax<region>.<n>``; ``region`` defaults
    to ``numa_node``.
    """
    _check_size(size, align)
    _check_choice("mode", mode, NAMESPACE_MODES)
    if name is not None and (not isinstance(name, str) or not name):
        raise ValueError(f"namespace name must be a non-empty string, not {name!r}")
    region = numa_node if region is None else region
    with _locked(root):
        world = load(root)
        if name is not None and any(ns.get("name") == name for ns in world.namespaces):
            raise ValueError(f"a namespace named {name!r} already exists in {root}")
        index = _next_index(_taken_names(world), region, ("namespace", "dax", "pmem"))
        dev = f"namespace{region}.{index}"
        chardev = f"dax{region}.{index}" if mode == "devdax" else None
        entry = _namespace_entry(
            dev, name, size, numa_node, align, mode, region, chardev
        )
        _publish(root, chardev, size, write_namespaces, world.namespaces, entry)
    return entry


def create_dax_device(root, size, target_node=0, align=DEFAULT_ALIGN, mode="devdax"):
    """Add a standalone dax device (CXL-style) and return its ``daxctl list``
    entry. Only a devdax-mode device gets a device file: in system-ram mode
    the memory belongs to the kernel and there is no character device."""
    _check_size(size, align)
    _check_choice("mode", mode, DAX_MODES)
    region = STANDALONE_REGION_BASE + target_node
    with _locked(root):
        world = load(root)
        index = _next_index(_taken_names(world), region, ("dax", "namespace"))
        chardev = f"dax{region}.{index}"
        entry = {
            "chardev": chardev,
            "size": size,
            "target_node": target_node,
            "align": align,
            "mode": mode,
        }
        file_chardev = chardev if mode == "devdax" else None
        _publish(root, file_chardev, size, write_dax_devices, world.dax_devices, entry)
    return entry


def _publish(root, chardev, size, write, entries, entry):
    """Create the device file, then list the device: a listed device always
    has its file. If listing fails the file goes again."""
    path = _create_device_file(root, chardev, size) if chardev else None
    try:
        write(root, [*entries, entry])
    except BaseException:
        if path:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)
        raise
