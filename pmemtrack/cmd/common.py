"""What every pmemtrack command does first: config, logging, objects, DB."""

import os
import sys

from oslo_config import cfg
from oslo_log import log as logging
from sqlalchemy.engine import url as sa_url

from pmemtrack import exception
from pmemtrack import objects
from pmemtrack import version
from pmemtrack.conf import CONF
from pmemtrack.conf import validate
from pmemtrack.db import api as db_api

LOG = logging.getLogger(__name__)
_logging_registered = False
# Libraries that narrate routine steps at INFO; operators want pmemtrack's own lines.
_QUIET_LIBRARIES = ["alembic=WARN", "oslo_service=WARN", "paramiko=WARN"]


def parse_args(argv, prog):
    """Load config files and CLI options; exit with one line on any error."""
    global _logging_registered
    if not _logging_registered:
        logging.register_options(CONF)
        logging.set_defaults(
            default_log_levels=logging.get_default_log_levels() + _QUIET_LIBRARIES
        )
        _logging_registered = True
    try:
        CONF(argv, project="pmemtrack", prog=prog, version=version.RELEASE)
        validate.check(CONF)
    except (cfg.Error, exception.PmemtrackException) as err:
        fail(err)
    logging.setup(CONF, "pmemtrack")
    objects.register_all()


def prepare_database():
    """Configure the transaction facade; create the SQLite file's directory."""
    url = sa_url.make_url(CONF.database.connection)
    if url.get_backend_name() == "sqlite" and url.database:
        os.makedirs(os.path.dirname(os.path.abspath(url.database)), exist_ok=True)
    db_api.configure(CONF)
    return db_api.get_engine()


def fail(err, code=1):
    """Print one line naming what is wrong, never a traceback, and exit."""
    print(f"ERROR: {err}", file=sys.stderr)
    sys.exit(code)


def safe_url():
    """The configured DB URL with its password hidden, for messages."""
    return sa_url.make_url(CONF.database.connection).render_as_string(
        hide_password=True
    )
