"""What daxio's report of a copy says: whether it copied what it was asked."""

import re

from pmemtrack import exception

_COPIED = re.compile(r"copied (\d+) bytes")


def check_daxio(result, expected, where):
    """Raise unless daxio exited 0 having copied ``expected`` bytes (None:
    any number)."""
    text = result.stderr.strip() or "(nothing on stderr)"
    if result.exit_status != 0:
        raise exception.CopyStepFailed(
            f"daxio on {where} exited with {result.exit_status}: {text}"
        )
    copied = _COPIED.findall(result.stderr)
    if expected is not None and (not copied or int(copied[-1]) != expected):
        raise exception.CopyStepFailed(
            f"daxio on {where} copied {copied[-1] if copied else 'no'} bytes "
            f"where {expected} were expected: {text}"
        )
