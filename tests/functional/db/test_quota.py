"""Per-project quota overrides over [quota] defaults, on every backend."""

import types

import pytest
import sqlalchemy as sa

from pmemtrack import exception
from pmemtrack import objects
from pmemtrack.db import api as db_api
from pmemtrack.objects import quota as quota_obj

RC = "CUSTOM_PMEM_NAMESPACE_4GB"
OTHER = "CUSTOM_PMEM_NAMESPACE_MEDIUM"
DEFAULTS = types.SimpleNamespace(default_limit=-1, class_limits={OTHER: 2})


def test_set_replace_and_unset(ctx):
    objects.QuotaLimit.set(ctx, "project-a", RC, 3)
    objects.QuotaLimit.set(ctx, "project-a", RC, 5)
    [limit] = objects.QuotaLimitList.get_by_project(ctx, "project-a")
    assert (limit.resource_class, limit.hard_limit) == (RC, 5)
    objects.QuotaLimit.unset(ctx, "project-a", RC)
    assert len(objects.QuotaLimitList.get_by_project(ctx, "project-a")) == 0
    with pytest.raises(exception.QuotaLimitNotFound, match="project-a"):
        objects.QuotaLimit.unset(ctx, "project-a", RC)


def test_limit_in_force_override_then_class_default_then_default(ctx):
    objects.QuotaLimit.set(ctx, "project-a", RC, 0)
    limits = objects.QuotaLimitList.get_by_project(ctx, "project-a")
    assert limits.limit_for(RC, DEFAULTS) == 0
    assert limits.limit_for(OTHER, DEFAULTS) == 2
    assert limits.limit_for("CUSTOM_PMEM_NAMESPACE_X", DEFAULTS) == -1
    others = objects.QuotaLimitList.get_by_project(ctx, "project-b")
    assert others.limit_for(RC, DEFAULTS) == -1


@pytest.mark.parametrize("bad", [-2, "3", True, 2**31])
def test_invalid_limits_are_refused(ctx, bad):
    with pytest.raises(exception.InvalidQuotaLimit, match="unlimited"):
        objects.QuotaLimit.set(ctx, "project-a", RC, bad)
    assert len(objects.QuotaLimitList.get_by_project(ctx, "project-a")) == 0


def _anchors(ctx):
    with db_api.context_manager.reader.using(ctx):
        rows = ctx.session.execute(
            sa.text("SELECT project_id, generation FROM project_quota_anchors")
        )
        return sorted(tuple(row) for row in rows)


def test_a_project_gets_one_anchor_however_often_it_is_ensured(ctx):
    quota_obj.ensure_anchor(ctx, "project-a")
    quota_obj.ensure_anchor(ctx, "project-a")
    quota_obj.ensure_anchor(ctx, "project-b")
    assert _anchors(ctx) == [("project-a", 0), ("project-b", 0)]


def test_an_anchor_is_created_outside_the_callers_transaction(ctx):
    """Committed at once, so a claim that fails afterwards keeps it, and a
    duplicate (a concurrent claim won) never aborts the caller's transaction."""

    class ClaimFailed(Exception):
        pass

    with pytest.raises(ClaimFailed):
        with db_api.context_manager.writer.using(ctx):
            quota_obj.ensure_anchor(ctx, "project-a")
            raise ClaimFailed()
    assert _anchors(ctx) == [("project-a", 0)]
