"""The one transaction facade every DB access in pmemtrack goes through.

Private DB functions are decorated with ``@context_manager.reader`` or
``@context_manager.writer``; calling one from inside another joins the outer
transaction, so public functions stay composable.
"""

from oslo_db.sqlalchemy import enginefacade

context_manager = enginefacade.transaction_context()
_configured = False


def configure(conf):
    """Point the facade at [database]/connection, once per process."""
    global _configured
    if _configured:
        return
    context_manager.configure(
        connection=conf.database.connection,
        sqlite_fk=True,
        max_pool_size=conf.database.max_pool_size,
        max_overflow=conf.database.max_overflow,
        pool_timeout=conf.database.pool_timeout,
        connection_recycle_time=conf.database.connection_recycle_time,
        max_retries=conf.database.max_retries,
        retry_interval=conf.database.retry_interval,
    )
    _configured = True


def get_engine():
    return context_manager.writer.get_engine()
