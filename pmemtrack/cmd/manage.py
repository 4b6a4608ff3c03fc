"""pmemtrack-manage: operator commands that act on the database directly."""

import sys

from oslo_config import cfg
from oslo_db import exception as db_exc
import sqlalchemy.exc

from pmemtrack.cmd import common
from pmemtrack.conf import CONF
from pmemtrack.db import migration


def db_sync():
    engine = common.prepare_database()
    before = migration.current_revision(engine)
    migration.upgrade(engine, CONF.category.revision)
    after = migration.current_revision(engine)
    if before == after:
        print(f"Database schema already at {after}.")
    else:
        print(f"Database schema upgraded from {before or 'empty'} to {after}.")


def db_version():
    engine = common.prepare_database()
    current = migration.current_revision(engine)
    head = migration.head_revision()
    state = "up to date" if current == head else f"head is {head}: run 'db sync'"
    print(f"{current or 'empty'} ({state})")


def add_command_parsers(subparsers):
    db = subparsers.add_parser("db", help="Database schema commands.")
    db_actions = db.add_subparsers(dest="action", metavar="ACTION")
    db_actions.required = True
    sync = db_actions.add_parser(
        "sync", help="Upgrade the schema of an empty or older database."
    )
    sync.add_argument(
        "--revision", default="head", help="Revision to upgrade to (default: head)."
    )
    sync.set_defaults(func=db_sync)
    version = db_actions.add_parser("version", help="Print the schema revision.")
    version.set_defaults(func=db_version)


category_opt = cfg.SubCommandOpt(
    "category", title="Commands", handler=add_command_parsers
)


def main(argv=None):
    CONF.register_cli_opt(category_opt)
    common.parse_args(sys.argv[1:] if argv is None else argv, "pmemtrack-manage")
    try:
        CONF.category.func()
    except (db_exc.DBError, sqlalchemy.exc.SQLAlchemyError) as err:
        common.fail(f"database {common.safe_url()}: {_first_line(err)}")
    return 0


def _first_line(err):
    inner = getattr(err, "inner_exception", None) or err
    return str(getattr(inner, "orig", None) or inner).strip().splitlines()[0]
