"""pmemtrack-status upgrade check: is this host ready to run this release?

Built on oslo.upgradecheck, so it prints the table (or, with ``-f json`` /
``--json``, the document) every OpenStack ``*-status`` command prints and exits
0 (success), 1 (warning) or 2 (failure, also for a config file that is missing
or unreadable). It only reads: the config, the database's schema revision, what
discovery finds and whether files exist. It never creates a database.
"""

import configparser
import functools
import glob
import os
import re
import sys

from oslo_config import cfg
from oslo_log import log as logging
from oslo_upgradecheck import upgradecheck
from sqlalchemy.engine import url as sa_url

from pmemtrack import exception
from pmemtrack import privsep
from pmemtrack.cmd import common
from pmemtrack.conf import CONF
from pmemtrack.conf import hosts
from pmemtrack.conf import pmem as pmem_conf
from pmemtrack.conf import validate
from pmemtrack.db import migration
from pmemtrack.virt.libvirt import namespaces
from pmemtrack.virt.libvirt import privileged

SUCCESS = upgradecheck.Code.SUCCESS
WARNING = upgradecheck.Code.WARNING
FAILURE = upgradecheck.Code.FAILURE
_SYNC_HINT = "run 'pmemtrack-manage db sync'"
_ENTRY = re.compile(pmem_conf.NAMESPACE_ENTRY_REGEX)


def _result(code, details=None):
    return upgradecheck.Result(code, details)


def _guarded(check):
    """A check that cannot end the run: what goes wrong is its failure."""

    @functools.wraps(check)
    def run(self):
        try:
            return check(self)
        except common.DATABASE_ERRORS as err:
            return _result(
                FAILURE, f"database {common.safe_url()}: {common.first_line(err)}"
            )
        except (exception.PmemtrackException, cfg.Error, ValueError, OSError) as err:
            return _result(FAILURE, str(err))

    return run


def _config_files():
    """The files oslo.config read, in the order it read them."""
    files = list(CONF.config_file or [])
    for directory in CONF.config_dir or []:
        files.extend(sorted(glob.glob(os.path.join(directory, "*.conf"))))
    return files


def _raw_value(group, option):
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    for path in _config_files():
        try:
            parser.read(path)
        except configparser.Error:
            continue
    return parser.get(group, option, fallback=None)


def _malformed_entry(err):
    """The first entry of [pmem] namespaces that oslo.config refused."""
    raw = _raw_value("pmem", "namespaces") or ""
    for entry in (e.strip() for e in raw.split(",")):
        if not _ENTRY.match(entry):
            return (
                f"[pmem] namespaces entry {entry!r} is malformed: expected "
                "LABEL:NAME[|NAME...] with a label of letters, digits and '_'."
            )
    return f"[pmem] namespaces cannot be read: {err}"


def _validate_all_but_namespaces():
    """Every option's value; [pmem] namespaces has a check of its own."""
    try:
        validate.check(CONF)
    except validate.InvalidConfig as err:
        if (err.kwargs.get("group"), err.kwargs.get("option")) != (
            "pmem",
            "namespaces",
        ):
            raise
        CONF.set_override("namespaces", [], group="pmem")
        try:
            validate.check(CONF)
        finally:
            CONF.clear_override("namespaces", group="pmem")


def _discovered(conf, host=None):
    """Discovery as the service runs it on ``conf``'s host: every name must
    exist, be in devdax mode and have a size and alignment the checks accept
    (a failure names ``host``, when given)."""
    pairs = namespaces.parse_config(conf.pmem.namespaces)
    tools = privileged.Tools(conf.pmem)
    try:
        found = namespaces.select(
            pairs,
            namespaces.discover(tools, conf.pmem),
            lambda: namespaces.every_mode(tools),
        )
    except exception.PmemtrackException as err:
        if host is None:
            raise
        raise type(err)(f"{host}: {err}") from err
    labels = ", ".join(sorted({ns.label for ns in found})) or "none"
    return f"{len(found)} namespaces found, in devdax mode, labels {labels}"


def _missing_files(migration_conf):
    return [
        f"{option} {path}"
        for option, path in (
            ("ssh_key_file", migration_conf.ssh_key_file),
            ("known_hosts_file", migration_conf.known_hosts_file),
        )
        if not os.path.isfile(path)
    ]


class Checks(upgradecheck.UpgradeCommands):
    display_title = "pmemtrack upgrade check"

    def check(self):
        # After oslo.config has read the files, so --debug and the log
        # options from them apply.
        logging.setup(CONF, "pmemtrack")
        hosts.register_opts(CONF)
        return super().check()

    @_guarded
    def _check_config(self):
        _validate_all_but_namespaces()
        return _result(SUCCESS)

    @_guarded
    def _check_schema(self):
        url = sa_url.make_url(CONF.database.connection)
        path = url.database if url.get_backend_name() == "sqlite" else None
        if path and path != ":memory:" and not os.path.exists(path):
            return _result(
                FAILURE, f"Database {common.safe_url()} does not exist: {_SYNC_HINT}."
            )
        current = migration.current_revision(common.prepare_database())
        head = migration.head_revision()
        if current != head:
            return _result(
                FAILURE,
                f"Database {common.safe_url()} has schema {current or 'empty'}; "
                f"this release needs {head}: {_SYNC_HINT}.",
            )
        return _result(SUCCESS)

    @_guarded
    def _check_namespaces(self):
        try:
            entries = CONF.pmem.namespaces
        except ValueError as err:
            return _result(FAILURE, _malformed_entry(err))
        if not entries and not CONF.compute_hosts:
            return _result(
                WARNING,
                "[pmem] namespaces is empty: this host offers no PMEM "
                "namespaces to instances.",
            )
        # Discovery runs the tools in the privsep daemon, as the service does.
        privsep.configure(CONF)
        if not CONF.compute_hosts:
            return _result(SUCCESS, _discovered(CONF) + ".")
        confs = [CONF, *(hosts.conf_for(CONF, h) for h in CONF.compute_hosts)]
        found = [f"{conf.host}: {_discovered(conf, conf.host)}" for conf in confs]
        return _result(SUCCESS, "; ".join(found) + ".")

    @_guarded
    def _check_backend(self):
        if CONF.pmem.backend != "simulated":
            return _result(SUCCESS)
        return _result(
            WARNING,
            "[pmem] backend is 'simulated': namespaces are regular files under "
            f"{CONF.pmem.simulated_path}. Not for production; use 'ndctl'.",
        )

    @_guarded
    def _check_migration_ssh(self):
        options = CONF.migration
        missing = _missing_files(options)
        if options.host_key_policy != "reject":
            return _result(
                WARNING,
                f"[migration] host_key_policy is {options.host_key_policy!r}: a "
                "destination whose host key is unknown is accepted. Use 'reject' "
                "with every compute host's key in known_hosts_file.",
            )
        if missing:
            # Copies are asked for per move: a host may never need them.
            return _result(
                WARNING,
                f"[migration] {' and '.join(missing)} not found: moves that copy "
                "PMEM data (copy_pmem_devices) cannot reach their destination.",
            )
        return _result(SUCCESS)

    _upgrade_checks = (
        ("Configuration values", _check_config),
        ("Database schema", _check_schema),
        ("PMEM namespaces", _check_namespaces),
        ("PMEM backend", _check_backend),
        ("Migration SSH files", _check_migration_ssh),
    )


def main(argv=None):
    logging.register_options(CONF)
    # Reading the schema revision makes alembic narrate at INFO; starting the
    # privsep daemon does too, and relays what its interpreter prints.
    logging.set_defaults(
        default_log_levels=logging.get_default_log_levels()
        + ["alembic=WARN", common.PRIVSEP_DAEMON_LOG_LEVEL]
    )
    # stdout carries the results (--json among them): logs go to stderr.
    CONF.set_default("use_stderr", True)
    try:
        return upgradecheck.main(
            CONF,
            "pmemtrack",
            Checks(),
            _format_to_json(sys.argv[1:] if argv is None else argv),
        )
    except cfg.Error as err:
        # A config file missing or unreadable is a failed check, with oslo's
        # exit code for one: deployment tools read 0 / 1 / 2.
        common.fail(err, code=FAILURE)


def _format_to_json(argv):
    """``-f table|json`` as the other pmemtrack commands take it, on top of
    oslo.upgradecheck's own ``--json``."""
    out, args = [], iter(argv)
    for arg in args:
        value = None
        if arg in ("-f", "--format"):
            value = next(args, "")
        elif arg.startswith(("-f", "--format=")):
            value = arg.split("=", 1)[1] if arg.startswith("--format=") else arg[2:]
        if value is None:
            out.append(arg)
        elif value == "json":
            out.append("--json")
        elif value != "table":
            common.fail(
                f"-f {value}: upgrade check prints 'table' or 'json'", code=FAILURE
            )
    return out
