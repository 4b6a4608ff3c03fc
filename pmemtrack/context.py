"""Request context: who is asking, and the DB transaction it carries."""

from oslo_context import context
from oslo_db.sqlalchemy import enginefacade


@enginefacade.transaction_context_provider
class RequestContext(context.RequestContext):
    """A request context that enginefacade can hang its transaction on."""


def get_admin_context():
    return RequestContext(is_admin=True, overwrite=False)
