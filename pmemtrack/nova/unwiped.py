"""Namespaces whose wipe failed, kept on disk so a restart does not forget
them: until a later wipe succeeds they are never handed out again (the driver
reports them as reserved and leaves them out of the provider's resources)."""

import json
import os
import tempfile


class UnwipedNamespaces:
    def __init__(self, path):
        self.path = path
        self._names = self._load()

    def _load(self):
        try:
            with open(self.path) as source:
                names = json.load(source)
        except FileNotFoundError:
            return {}
        # Unreadable means unknown: refuse to start rather than hand out a
        # namespace that may still hold another tenant's data.
        if not isinstance(names, dict):
            raise ValueError(f"{self.path}: expected a JSON object of name: devpath")
        return names

    def _save(self):
        directory = os.path.dirname(self.path)
        os.makedirs(directory, mode=0o700, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=directory, prefix=".unwiped-")
        with os.fdopen(fd, "w") as target:
            json.dump(self._names, target, sort_keys=True)
            target.flush()
            os.fsync(target.fileno())
        os.replace(tmp, self.path)

    def add(self, name, devpath):
        self._names[name] = devpath
        self._save()

    def discard(self, name):
        if self._names.pop(name, None) is not None:
            self._save()

    def items(self):
        return sorted(self._names.items())

    def __contains__(self, name):
        return name in self._names
