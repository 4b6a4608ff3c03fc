"""What this host must remember about its namespaces across restarts, in
small JSON files under ``[pmemtrack] state_dir`` (one set per host, so a
shared state_path cannot mix two hosts up):

- ``unwiped-<host>.json``: namespaces whose wipe failed (name: devpath); they
  are reported reserved and never handed out until a later wipe succeeds;
- ``holders-<host>.json``: which instance last had a guest on each namespace
  here (name: instance uuid). Nova forgets where an evacuated instance's
  namespaces were once it runs elsewhere; this record is how the host, when
  it comes back, wipes exactly those.
"""

import json
import os
import tempfile


class NamespaceMap:
    """A dict of namespace name to a string, saved atomically on each change."""

    def __init__(self, path):
        self.path = path
        self._entries = self._load()

    def _load(self):
        try:
            with open(self.path) as source:
                entries = json.load(source)
        except FileNotFoundError:
            return {}
        # Unreadable means unknown: refuse to start rather than hand out a
        # namespace that may still hold another tenant's data.
        if not isinstance(entries, dict):
            raise ValueError(f"{self.path}: expected a JSON object of name: value")
        return entries

    def _save(self):
        directory = os.path.dirname(self.path)
        os.makedirs(directory, mode=0o700, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=directory, prefix=".pmemtrack-")
        with os.fdopen(fd, "w") as target:
            json.dump(self._entries, target, sort_keys=True)
            target.flush()
            os.fsync(target.fileno())
        os.replace(tmp, self.path)

    def set(self, name, value):
        if self._entries.get(name) != value:
            self._entries[name] = value
            self._save()

    def discard(self, name):
        if self._entries.pop(name, None) is not None:
            self._save()

    def names_of(self, value):
        return sorted(
            name for name, held_by in self._entries.items() if held_by == value
        )

    def items(self):
        return sorted(self._entries.items())

    def __contains__(self, name):
        return name in self._entries


def for_host(state_dir, host):
    """(unwiped, holders) of ``host``."""
    return (
        NamespaceMap(os.path.join(state_dir, f"unwiped-{host}.json")),
        NamespaceMap(os.path.join(state_dir, f"holders-{host}.json")),
    )
