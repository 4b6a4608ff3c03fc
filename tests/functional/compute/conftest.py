"""Fixtures of the compute tests: the two-host cloud and its sshd."""

import pytest

from tests.fixtures.sshd import sshd_server  # noqa: F401 (fixture)
from tests.functional.compute.cloud import Cloud


@pytest.fixture
def cloud(ctx, tmp_path, sshd_server):  # noqa: F811
    return Cloud(ctx, tmp_path, sshd_server)
