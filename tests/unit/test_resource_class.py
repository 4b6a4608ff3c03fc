"""Labels become resource class names the way Nova normalises them."""

import pytest

from pmemtrack import exception
from pmemtrack import resource_class


@pytest.mark.parametrize(
    "label, expected",
    [
        ("128G", "CUSTOM_PMEM_NAMESPACE_128G"),
        ("medium", "CUSTOM_PMEM_NAMESPACE_MEDIUM"),
        ("MEDIUM", "CUSTOM_PMEM_NAMESPACE_MEDIUM"),
        ("fast-tier.1", "CUSTOM_PMEM_NAMESPACE_FAST_TIER_1"),
    ],
)
def test_label_to_resource_class(label, expected):
    assert resource_class.for_label(label) == expected


def test_empty_label_is_refused():
    with pytest.raises(exception.InvalidResourceClass, match="label ''"):
        resource_class.for_label("")
