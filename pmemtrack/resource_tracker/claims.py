"""Claim objects: context managers that undo their claim if the work fails.

The claim itself is already committed when the object exists; leaving the
``with`` block through an exception releases (and wipes) what it took.
"""


class Claim:
    def __init__(self, tracker, context, instance, nodename, resources):
        self.tracker = tracker
        self.context = context
        self.instance = instance
        self.nodename = nodename
        # The ResourceList taken, or None when the flavor asks for no PMEM.
        self.resources = resources

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is not None:
            self.abort()
        return False

    def abort(self):
        self.tracker.abort_instance_claim(self.context, self.instance, self.nodename)


class MoveClaim(Claim):
    def __init__(self, tracker, context, instance, nodename, resources, migration):
        super().__init__(tracker, context, instance, nodename, resources)
        self.migration = migration

    def abort(self):
        self.tracker.drop_move_claim_at_dest(
            self.context, self.instance, self.migration
        )
