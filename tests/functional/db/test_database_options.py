"""Every [database] option an operator sets reaches the database: the facade
is configured from the whole group, as oslo.db's own services do."""

import warnings

from oslo_config import cfg
from oslo_db import options as db_options
from oslo_db.sqlalchemy import enginefacade
import pytest
import sqlalchemy as sa

from pmemtrack import conf as pmt_conf
from pmemtrack.db import api as db_api
from tests.fixtures import databases


def _conf(**database):
    conf = cfg.ConfigOpts()
    pmt_conf.register_opts(conf)
    conf([], project="pmemtrack", default_config_files=[])
    for name, value in database.items():
        conf.set_override(name, value, group="database")
    return conf


def _facade(url, conf):
    facade = enginefacade.transaction_context()
    with warnings.catch_warnings():
        # oslo.db warns of every option it does not know: there must be none.
        warnings.simplefilter("error")
        facade.configure(connection=url, **db_api.engine_options(conf))
    return facade


@pytest.fixture
def mysql_url(tmp_path):
    database = databases.Database("mysql", tmp_path)
    yield database.url
    database.drop()


def test_mysql_sql_mode_and_pool_options_reach_the_server(mysql_url):
    conf = _conf(mysql_sql_mode="ANSI_QUOTES,STRICT_ALL_TABLES", max_pool_size=3)
    facade = _facade(mysql_url, conf)
    engine = facade.writer.get_engine()
    try:
        with engine.connect() as conn:
            mode = conn.execute(sa.text("SELECT @@SESSION.sql_mode")).scalar()
        assert set(mode.split(",")) == {"ANSI_QUOTES", "STRICT_ALL_TABLES"}
        assert engine.pool.size() == 3
    finally:
        facade.dispose_pool()


def test_the_default_sql_mode_stays_traditional(mysql_url):
    facade = _facade(mysql_url, _conf())
    engine = facade.writer.get_engine()
    try:
        with engine.connect() as conn:
            mode = conn.execute(sa.text("SELECT @@SESSION.sql_mode")).scalar()
        assert "STRICT_TRANS_TABLES" in mode.split(",")
    finally:
        facade.dispose_pool()


def test_no_database_option_is_dropped():
    conf = _conf(connection_debug=50, sqlite_synchronous=False)
    options = db_api.engine_options(conf)
    registered = {opt.dest for opt in db_options.database_opts}
    assert set(options) == registered - {"connection"}
    assert (options["connection_debug"], options["sqlite_synchronous"]) == (50, False)
