"""Generation compare-and-update: the race check of every claim.

A row's ``generation`` is read under a row lock and bumped with a conditional
UPDATE in the same transaction; a bump that matches no row means another
writer got there first, and the claim is retried in a fresh transaction.
"""

import sqlalchemy as sa

from pmemtrack import exception


def lock(context, key_column, key):
    """SELECT generation FROM <table> WHERE <key> = :key FOR UPDATE; None when
    the row does not exist."""
    table = key_column.table
    query = sa.select(table.c.generation).where(key_column == key).with_for_update()
    return context.session.execute(query).scalar()


def bump(context, key_column, key, generation, what):
    # UPDATE <table> SET generation = :g + 1 WHERE <key> = :key AND generation = :g
    table = key_column.table
    result = context.session.execute(
        sa.update(table)
        .where(key_column == key, table.c.generation == generation)
        .values(generation=generation + 1)
    )
    if result.rowcount != 1:
        raise exception.ClaimConflict(what=what, expected=generation)
