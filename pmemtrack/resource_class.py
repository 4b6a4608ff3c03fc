"""Resource class names for PMEM labels, normalised the way Nova does it."""

import re

from pmemtrack import exception

PMEM_PREFIX = "CUSTOM_PMEM_NAMESPACE_"
_NOT_ALLOWED = re.compile(r"[^A-Z0-9_]")
_VALID = re.compile(r"^CUSTOM_[A-Z0-9_]+$")


def normalize_label(label):
    """The canonical spelling of a label: ``medium`` and ``MEDIUM`` are one."""
    return _NOT_ALLOWED.sub("_", label.strip().upper())


def for_label(label):
    """``CUSTOM_PMEM_NAMESPACE_<LABEL>`` for a label from config or ``hw:pmem``."""
    name = PMEM_PREFIX + normalize_label(label)
    if not label.strip() or not _VALID.match(name):
        raise exception.InvalidResourceClass(name=name, label=label)
    return name


def is_valid(name):
    return bool(_VALID.match(name))
