"""[database] options: oslo.db's own, with a default that needs no set-up."""

from oslo_db import options as db_options

# An embedded SQLite file under state_path, so a fresh host works out of the box;
# production deployments point this at MariaDB/MySQL or PostgreSQL.
DEFAULT_CONNECTION = "sqlite:///$state_path/pmemtrack.sqlite"


def register_opts(conf):
    db_options.set_defaults(conf, connection=DEFAULT_CONNECTION)


def list_opts():
    # oslo.db owns these options; the generator lists them under its namespace.
    return {}
