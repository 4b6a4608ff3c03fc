"""What every pmemtrack command does first: config, logging, objects, DB."""

import os
import sys

from oslo_config import cfg
from oslo_db import exception as db_exc
from oslo_log import log as logging
from sqlalchemy.engine import url as sa_url
import sqlalchemy.exc

from pmemtrack import exception
from pmemtrack import objects
from pmemtrack import privsep
from pmemtrack import version
from pmemtrack.conf import CONF
from pmemtrack.conf import hosts
from pmemtrack.conf import validate
from pmemtrack.db import api as db_api
from pmemtrack.db import migration

LOG = logging.getLogger(__name__)
_logging_registered = False
# Libraries that narrate routine steps at INFO; operators want pmemtrack's own lines.
# The privsep client relays at WARNING whatever the daemon's interpreter
# prints (library deprecation warnings); a daemon that fails raises anyway.
PRIVSEP_DAEMON_LOG_LEVEL = "oslo.privsep.daemon=ERROR"
_QUIET_LIBRARIES = ["alembic=WARN", "oslo_service=WARN", "paramiko=WARN",
                    PRIVSEP_DAEMON_LOG_LEVEL]  # fmt: skip


def parse_args(argv, prog, quiet=(), default_config_files=None):
    """Load config files and CLI options; exit with one line on any error."""
    global _logging_registered
    if not _logging_registered:
        logging.register_options(CONF)
        # stdout carries each command's output (json, value rows): logs,
        # --debug among them, go to stderr unless a log file is configured.
        CONF.set_default("use_stderr", True)
        logging.set_defaults(
            default_log_levels=logging.get_default_log_levels() + _QUIET_LIBRARIES
        )
        _logging_registered = True
    try:
        CONF(
            argv,
            project="pmemtrack",
            prog=prog,
            version=version.RELEASE,
            default_config_files=default_config_files,
        )
        hosts.register_opts(CONF)
        validate.check(CONF)
        privsep.configure(CONF)
    except (cfg.Error, exception.PmemtrackException) as err:
        fail(err)
    _log_where_asked(quiet)
    logging.setup(CONF, "pmemtrack")
    objects.register_all()


def _log_where_asked(quiet):
    """A log file (``--log-file``, ``[DEFAULT] log_dir``) gets every line,
    the audit trail of claims, copies and wipes, and the terminal keeps only
    the command's output; ``--debug`` without a file shows everything on
    stderr. Otherwise the ``quiet`` loggers say only warnings."""
    to_file = bool(CONF.log_file or CONF.log_dir)
    if to_file:
        CONF.set_override("use_stderr", False)
    if quiet and not (to_file or CONF.debug):
        CONF.set_override("default_log_levels", CONF.default_log_levels + list(quiet))


SYNC_HINT = "run 'pmemtrack-manage db sync'"


def open_database_at_head():
    """The engine of a database whose schema is this release's, or one line
    and exit before anything is written.

    Only 'db sync' creates a database: a read of a missing SQLite file would
    otherwise leave an empty one behind, and an old schema would fail later
    (after some writes) with a less helpful SQL error.
    """
    url = sa_url.make_url(CONF.database.connection)
    path = url.database if url.get_backend_name() == "sqlite" else None
    if path and path != ":memory:" and not os.path.exists(path):
        fail(f"database {safe_url()} does not exist: {SYNC_HINT}")
    engine = prepare_database()
    current, head = migration.current_revision(engine), migration.head_revision()
    if current != head:
        fail(
            f"database {safe_url()} has schema {current or 'empty'}, "
            f"this release needs {head}: {SYNC_HINT}"
        )
    return engine


def prepare_database():
    """Configure the transaction facade. A SQLite file is created private (and
    its directory 0700) when missing, or made private: see db_api."""
    db_api.configure(CONF)
    return db_api.get_engine()


def fail(err, code=1):
    """Print one line naming what is wrong, never a traceback, and exit."""
    print(f"ERROR: {err}", file=sys.stderr)
    sys.exit(code)


def safe_url():
    """The configured DB URL with its password hidden, for messages."""
    try:
        url = sa_url.make_url(CONF.database.connection)
    except sqlalchemy.exc.ArgumentError:
        # Not a URL: nothing in it can be told apart from a password.
        return "([database] connection is not a database URL)"
    return url.render_as_string(hide_password=True)


# What an unreachable or broken database raises through oslo.db / SQLAlchemy.
DATABASE_ERRORS = (db_exc.DBError, sqlalchemy.exc.SQLAlchemyError)


def first_line(err):
    """The driver's own message, first line only, for one-line errors."""
    inner = getattr(err, "inner_exception", None) or err
    return str(getattr(inner, "orig", None) or inner).strip().splitlines()[0]
