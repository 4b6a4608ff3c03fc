"""Stand-ins for ndctl, daxctl and daxio that work on a simulated PMEM world.

pmemtrack runs these instead of the real tools with ``[pmem] backend =
simulated`` and otherwise drives them exactly as it drives the real ones, so
they copy the real tools' interface: the options, the JSON output, the exit
codes and the messages on stderr. The world they read lives under the
directory named by ``PMEMTRACK_SIMULATED_PATH`` (see ``simulated``).

Exit codes follow the real tools:

* ``ndctl``/``daxctl``: 0 on success; 1 for an unknown command, a missing
  command or a world that cannot be read; 129 for bad options, as their
  git-style option parser does (``-h`` too).
* ``daxio``: 0 on success, 1 for every error, each reported on stderr as
  ``daxio: ...``.
"""

import argparse
import ctypes
import fcntl
import json
import os
import stat
import sys

from pmemtrack.sandbox import simulated

EXIT_SUCCESS = 0
EXIT_FAILURE = 1
# What ndctl's parse-options (borrowed from git) exits with on a usage error.
EXIT_USAGE = 129

BUFFER_SIZE = 1024 * 1024
PIPE_SIZE = 1024 * 1024

# The versions whose behaviour the stand-ins copy.
NDCTL_VERSION = "76.1"
DAXIO_VERSION = "1.12.1"
DAXIO_USAGE = """\
Usage: daxio [option] ...
Valid options:
   -i, --input=FILE          - input device/file (default stdin)
   -o, --output=FILE         - output device/file (default stdout)
   -k, --skip=BYTES          - skip offset for input (default 0)
   -s, --seek=BYTES          - seek offset for output (default 0)
   -l, --len=BYTES           - total length to perform the I/O
   -b, --clear-bad-blocks=<yes|no> - clear bad blocks (default: yes)
   -z, --zero                - zeroing the device
   -h, --help                - print this help
   -V, --version             - display version of daxio
"""

_FALLOC_FL_KEEP_SIZE = 0x01
_FALLOC_FL_PUNCH_HOLE = 0x02


class _UsageError(Exception):
    """Bad command line; each tool reports it its own way."""


class _DaxioError(Exception):
    """A daxio failure; the message is printed after ``daxio: ``."""


def _io_failed(call, err):
    """daxio's two-line report of a failed system call during the I/O."""
    return _DaxioError(f"{call}: {err.strerror}\ndaxio: failed to perform I/O")


class _Parser(argparse.ArgumentParser):
    # argparse would print its own message and exit 2; the tools each have
    # their conventions, so hand the message back instead.
    def error(self, message):
        raise _UsageError(message)


def _stderr(message):
    sys.stderr.write(message if message.endswith("\n") else message + "\n")
    sys.stderr.flush()


def _root_of_device(*paths):
    """The world a device path lives in (``<root>/dev/<chardev>``): over SSH
    the destination's daxio is given its own device paths and no environment."""
    for path in paths:
        if not path or not os.path.isabs(path):
            continue
        root = os.path.dirname(os.path.dirname(os.path.realpath(path)))
        if os.path.isfile(os.path.join(root, simulated.NDCTL_FILE)):
            return root
    return None


def _root(tool, *device_paths):
    """The world's directory, or None (after saying why) if it is not set."""
    root = os.environ.get(simulated.ENV_VAR) or _root_of_device(*device_paths)
    if not root:
        _stderr(f"{tool}: {simulated.ENV_VAR} is not set")
        return None
    return root


def main(tool_main, argv=None):
    """Run one stand-in and exit with its code."""
    sys.exit(tool_main(argv))


def ndctl():
    main(ndctl_main)


def daxctl():
    main(daxctl_main)


def daxio():
    main(daxio_main)


# -- ndctl and daxctl ---------------------------------------------------------


def _human_size(size):
    """Sizes as ndctl and daxctl print them with --human."""
    if size < 1024:
        return size
    binary = _scaled(size, 1024, ("KiB", "MiB", "GiB", "TiB", "PiB"))
    decimal = _scaled(size, 1000, ("KB", "MB", "GB", "TB", "PB"))
    return f"{binary} ({decimal})"


def _scaled(size, base, units):
    value, unit = size / base, units[0]
    for bigger in units[1:]:
        if value < base:
            break
        value, unit = value / base, bigger
    return f"{value:.2f} {unit}"


def _humanise(entry):
    """A copy of ``entry`` with every size, nested ones too, made readable."""
    if isinstance(entry, list):
        return [_humanise(item) for item in entry]
    if not isinstance(entry, dict):
        return entry
    return {
        key: _human_size(value)
        if key == "size" and isinstance(value, int)
        else _humanise(value)
        for key, value in entry.items()
    }


def _print_json(entries, human):
    """Print like the real tools: nothing at all for no entries, a bare object
    for a single one with --human, else a pretty JSON array."""
    if not entries:
        return
    if human:
        entries = _humanise(entries)
        if len(entries) == 1:
            entries = entries[0]
    # json-c's pretty printer: two-space indent and no space after ':'.
    sys.stdout.write(json.dumps(entries, indent=2, separators=(",", ":")) + "\n")
    sys.stdout.flush()


def _list_parser(tool):
    parser = _Parser(prog=f"{tool} list", add_help=False)
    parser.add_argument("-h", "--help", action="store_true")
    parser.add_argument("-u", "--human", action="store_true")
    parser.add_argument("-R", "--regions", action="store_true")
    parser.add_argument("-i", "--idle", action="store_true")
    parser.add_argument("-v", "--verbose", action="count", default=0)
    return parser


def _ndctl_parser():
    parser = _list_parser("ndctl")
    parser.add_argument("-X", "--device-dax", dest="dax", action="store_true")
    parser.add_argument("-N", "--namespaces", action="store_true")
    return parser


def _daxctl_parser():
    parser = _list_parser("daxctl")
    parser.add_argument("-D", "--devices", action="store_true")
    return parser


_VERBOSE_KEYS = ("numa_node", "target_node", "raw_uuid")


def _namespace_view(namespace, dax, verbose):
    """One namespace as ``ndctl list`` prints it with these options."""
    view = dict(namespace)
    if not verbose:
        for key in _VERBOSE_KEYS:
            view.pop(key, None)
    if namespace.get("mode") == "devdax" and not dax:
        # Without -X ndctl names the character device instead of describing
        # its dax region.
        devices = simulated.namespace_dax_devices(namespace)
        view.pop("daxregion", None)
        if devices:
            view["chardev"] = devices[0]["chardev"]
    return view


def _ndctl_list(world, opts):
    # -R is accepted and ignored: the stand-in lists namespaces only. -X
    # limits the listing to devdax namespaces even with -N, as in ndctl.
    return [
        _namespace_view(ns, opts.dax, opts.verbose)
        for ns in world.namespaces
        if not opts.dax or ns.get("mode") == "devdax"
    ]


def _daxctl_list(world, opts):
    return simulated.list_dax_devices(world)


def _list_tool(tool, argv, make_parser, list_entries):
    """The shared front end of ndctl and daxctl: ``TOOL list [options]``."""
    argv = sys.argv[1:] if argv is None else list(argv)
    if not argv:
        sys.stdout.write(f"\n usage: {tool} [--version] [--help] COMMAND [ARGS]\n\n")
        return EXIT_FAILURE
    command, args = argv[0], argv[1:]
    if command in ("version", "--version"):
        sys.stdout.write(NDCTL_VERSION + "\n")
        return EXIT_SUCCESS
    if command != "list":
        _stderr(f"Unknown command: '{command}'")
        return EXIT_FAILURE
    try:
        opts = make_parser().parse_args(args)
    except _UsageError as err:
        _stderr(f"  Error: {err}\n\n usage: {tool} list [<options>]\n")
        return EXIT_USAGE
    if opts.help:
        _stderr(f"\n usage: {tool} list [<options>]\n")
        return EXIT_USAGE
    root = _root(tool)
    if root is None:
        return EXIT_FAILURE
    try:
        world = simulated.load(root)
    except (OSError, ValueError) as err:
        _stderr(f"{tool}: cannot read the simulated world: {err}")
        return EXIT_FAILURE
    _print_json(list_entries(world, opts), opts.human)
    return EXIT_SUCCESS


def ndctl_main(argv=None):
    """``ndctl list`` with -X, -N, -v, -u (-R and -i accepted, ignored)."""
    return _list_tool("ndctl", argv, _ndctl_parser, _ndctl_list)


def daxctl_main(argv=None):
    """``daxctl list``: every dax device, namespace-backed or standalone."""
    return _list_tool("daxctl", argv, _daxctl_parser, _daxctl_list)


# -- daxio: options -----------------------------------------------------------


_BINARY_SUFFIXES = {"K": 1, "M": 2, "G": 3, "T": 4, "P": 5, "E": 6}


def _parse_size(text):
    """A byte count as daxio takes it: digits, optionally followed by K, M, G...
    (or KiB, MiB...) for powers of 1024 or KB, MB... for powers of 1000."""
    digits = text.rstrip("BKMGTPEi")
    suffix = text[len(digits) :]
    if not (digits.isascii() and digits.isdigit()):
        return None
    if suffix in ("", "B"):
        return int(digits)
    power = _BINARY_SUFFIXES.get(suffix[:1])
    if power is None or suffix[1:] not in ("", "iB", "B"):
        return None
    base = 1000 if suffix[1:] == "B" else 1024
    return int(digits) * base**power


def _daxio_parser():
    parser = _Parser(prog="daxio", add_help=False)
    parser.add_argument("-i", "--input")
    parser.add_argument("-o", "--output")
    parser.add_argument("-k", "--skip")
    parser.add_argument("-s", "--seek")
    parser.add_argument("-l", "--len", dest="length")
    parser.add_argument("-b", "--clear-bad-blocks")
    parser.add_argument("-z", "--zero", action="store_true")
    parser.add_argument("-h", "--help", action="store_true")
    parser.add_argument("-V", "--version", action="store_true")
    return parser


def _size_option(value, what, default):
    if value is None:
        return default
    size = _parse_size(value)
    if size is None:
        raise _DaxioError(f"'{value}' -- invalid {what}")
    return size


class _Request:
    """What daxio was asked to do, checked as daxio checks it."""

    def __init__(self, opts):
        self.zero = opts.zero
        self.input = opts.input
        self.output = opts.output
        self.skip = _size_option(opts.skip, "input offset", 0)
        self.seek = _size_option(opts.seek, "output offset", 0)
        self.length = _size_option(opts.length, "length", None)
        if opts.clear_bad_blocks not in (None, "yes", "no"):
            raise _DaxioError(
                f"'{opts.clear_bad_blocks}' -- invalid argument of the "
                "'--clear-bad-blocks' option"
            )
        self._validate()

    def _validate(self):
        if self.zero and self.output is None:
            raise _DaxioError("zeroing flag specified but no output file provided")
        if not self.zero and self.input is None and self.output is None:
            raise _DaxioError("an input file and/or an output file must be provided")
        if self.input is None and self.skip:
            raise _DaxioError("skip offset specified but no input file provided")
        if self.output is None and self.seek:
            raise _DaxioError("seek offset specified but no output file provided")


# -- daxio: the two ends of a copy --------------------------------------------


class _End:
    """An input or output: its descriptor, the name daxio reports it by, and
    for a dax device its size (None for anything else)."""

    def __init__(self, fd, name, size=None, offset=0):
        self.fd = fd
        self.name = name
        self.size = size
        self.offset = offset

    @property
    def is_device(self):
        return self.size is not None

    @property
    def room(self):
        """Bytes between the offset and the end of the device."""
        return self.size - self.offset

    def check_offset(self):
        if self.is_device and self.offset > self.size:
            raise _DaxioError(
                f"'{self.offset}' -- offset beyond device size ({self.size})"
            )


def _open_input(root, path, offset):
    if path is None:
        return _End(sys.stdin.fileno(), "STDIN")
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError as err:
        raise _DaxioError(f"failed to open '{path}': {err.strerror}")
    return _End(fd, path, simulated.device_size(root, path), offset)


def _open_output(root, path, offset):
    if path is None:
        return _End(sys.stdout.fileno(), "STDOUT")
    try:
        fd = os.open(path, os.O_WRONLY)
    except FileNotFoundError:
        # daxio creates a missing output as an empty file. It cannot be a
        # device, so a wipe of a mistyped path fails below, leaving the file.
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        except OSError as err:
            raise _DaxioError(f"open: {err.strerror}")
        return _End(fd, path, offset=offset)
    except OSError as err:
        raise _DaxioError(f"failed to open '{path}': {err.strerror}")
    return _End(fd, path, simulated.device_size(root, path), offset)


def _grow_pipe(fd):
    """Ask for a 1 MiB pipe so each read and write moves a whole buffer;
    streaming a namespace over SSH goes through pipes on both sides."""
    setpipe = getattr(fcntl, "F_SETPIPE_SZ", None)
    try:
        if setpipe and stat.S_ISFIFO(os.fstat(fd).st_mode):
            fcntl.fcntl(fd, setpipe, PIPE_SIZE)
    except OSError:
        # Over the user's pipe limit: the default size only costs speed.
        pass


def _seek_stream(end):
    """Move a non-device end to its offset, as daxio does with lseek."""
    if end.offset and not end.is_device:
        try:
            os.lseek(end.fd, end.offset, os.SEEK_SET)
        except OSError as err:
            raise _io_failed("lseek", err)


# -- daxio: moving bytes ------------------------------------------------------


def _read_into(fd, view, position):
    try:
        if position is None:
            return os.readv(fd, [view])
        return os.preadv(fd, [view], position)
    except OSError as err:
        raise _io_failed("read", err)


def _write_all(fd, view, position):
    try:
        while view:
            if position is None:
                written = os.write(fd, view)
            else:
                written = os.pwrite(fd, view, position)
                position += written
            view = view[written:]
    except OSError as err:
        raise _io_failed("write", err)


def _copy(src, dst, limit):
    """Copy up to ``limit`` bytes (None: until end of input) from the offset of
    ``src`` to the offset of ``dst``; return how many were copied.

    Devices are read and written at explicit positions; pipes and other
    streams sequentially. One buffer serves the whole copy.
    """
    buf = bytearray(BUFFER_SIZE)
    view = memoryview(buf)
    copied = 0
    while limit is None or copied < limit:
        want = BUFFER_SIZE if limit is None else min(BUFFER_SIZE, limit - copied)
        got = _read_into(src.fd, view[:want], _position(src, copied))
        if not got:
            break
        _write_all(dst.fd, view[:got], _position(dst, copied))
        copied += got
    return copied


def _position(end, done):
    return end.offset + done if end.is_device else None


def _input_goes_on(src):
    try:
        return bool(os.read(src.fd, 1))
    except OSError:
        return False


def _overflow(dst, copied):
    return _DaxioError(
        f'output device "{dst.name}" is full: copied {copied} bytes from '
        f"offset {dst.offset}, the rest of the input does not fit"
    )


def _punch_hole(fd, offset, length):
    """Deallocate a range so it reads as zeros; False if the system can't."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        fallocate = getattr(libc, "fallocate64", None) or libc.fallocate
    except (OSError, AttributeError):
        return False
    fallocate.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int64, ctypes.c_int64]
    fallocate.restype = ctypes.c_int
    mode = _FALLOC_FL_PUNCH_HOLE | _FALLOC_FL_KEEP_SIZE
    return fallocate(fd, mode, offset, length) == 0


def _write_zeros(fd, offset, length):
    zeros = memoryview(bytearray(min(BUFFER_SIZE, length)))
    done = 0
    while done < length:
        chunk = min(len(zeros), length - done)
        _write_all(fd, zeros[:chunk], offset + done)
        done += chunk


def _zero(dst, length):
    if dst.offset + length > dst.size:
        raise _DaxioError("output offset beyond device size")
    if dst.offset + length == dst.size:
        # Cutting the file back and regrowing it zeroes the tail at once and
        # keeps the device file sparse.
        try:
            os.ftruncate(dst.fd, dst.offset)
            os.ftruncate(dst.fd, dst.size)
        except OSError as err:
            raise _io_failed("ftruncate", err)
    elif not _punch_hole(dst.fd, dst.offset, length):
        _write_zeros(dst.fd, dst.offset, length)
    return length


def _from_device(src, dst, length):
    """Copy out of a device: by default the rest of it, never past its end."""
    limit = src.room if length is None else min(length, src.room)
    if not dst.is_device:
        _seek_stream(dst)
        return _copy(src, dst, limit)
    fits = min(limit, dst.room)
    copied = _copy(src, dst, fits)
    if limit > fits:
        raise _overflow(dst, copied)
    return copied


def _into_device(src, dst, length):
    """Copy a stream into a device: ``length`` bytes or up to end of input;
    input that does not fit is an error, after what fits is written."""
    _seek_stream(src)
    requested = dst.room if length is None else length
    fits = min(requested, dst.room)
    copied = _copy(src, dst, fits)
    # A full device with input to spare: only reading on can tell.
    may_overflow = copied == dst.room and (length is None or length > copied)
    if may_overflow and _input_goes_on(src):
        raise _overflow(dst, copied)
    if copied < requested:
        _stderr(f"daxio: requested size {requested} larger than source")
    return copied


def _transfer(request, src, dst):
    """Do the I/O; return the byte count daxio reports."""
    if request.zero:
        return _zero(dst, dst.room if request.length is None else request.length)
    if src.is_device:
        return _from_device(src, dst, request.length)
    return _into_device(src, dst, request.length)


def _run_daxio(request, root):
    src = None
    if not request.zero:
        src = _open_input(root, request.input, request.skip)
    dst = _open_output(root, request.output, request.seek)
    if not dst.is_device and (src is None or not src.is_device):
        raise _DaxioError("neither input nor output is device dax")
    for end in (src, dst):
        if end is not None:
            end.check_offset()
            _grow_pipe(end.fd)
    copied = _transfer(request, src, dst)
    if dst.is_device and not request.zero:
        _inject_write_faults(root, dst, copied)
    _stderr(f'daxio: copied {copied} bytes to device "{dst.name}"')


def _inject_write_faults(root, dst, copied):
    """Failing media (simulated.flip_written_byte_at): each faulty offset
    this write covered ends up with every bit flipped."""
    for offset in simulated.write_faults(root):
        if dst.offset <= offset < dst.offset + copied:
            fd = os.open(dst.name, os.O_RDWR)
            try:
                (byte,) = os.pread(fd, 1, offset)
                os.pwrite(fd, bytes([byte ^ 0xFF]), offset)
            finally:
                os.close(fd)


def daxio_main(argv=None):
    """daxio's options and messages over the simulated devices."""
    argv = sys.argv[1:] if argv is None else list(argv)
    try:
        opts = _daxio_parser().parse_args(argv)
    except _UsageError as err:
        _stderr(f"daxio: {err}\n{DAXIO_USAGE}")
        return EXIT_FAILURE
    if opts.help:
        _stderr(DAXIO_USAGE)
        return EXIT_SUCCESS
    if opts.version:
        sys.stdout.write(DAXIO_VERSION + "\n")
        return EXIT_SUCCESS
    try:
        request = _Request(opts)
        root = _root("daxio", request.output, request.input)
        if root is None:
            return EXIT_FAILURE
        _run_daxio(request, root)
    except _DaxioError as err:
        _stderr(f"daxio: {err}")
        return EXIT_FAILURE
    except ValueError as err:
        # The world's JSON could not be read.
        _stderr(f"daxio: cannot read the simulated world: {err}")
        return EXIT_FAILURE
    return EXIT_SUCCESS
