"""pmemtrack-manage: operator commands that act on the database directly."""

import sys

from pmemtrack import context as pmt_context
from pmemtrack import deployment
from pmemtrack import exception
from pmemtrack import objects
from pmemtrack.cmd import app
from pmemtrack.cmd import audit
from pmemtrack.cmd import common
from pmemtrack.cmd import flavors
from pmemtrack.cmd import listing
from pmemtrack.cmd import migrations
from pmemtrack.cmd import quotas
from pmemtrack.conf import CONF
from pmemtrack.db import migration


def _open_database():
    """A context on a database whose schema is at head (see common)."""
    common.open_database_at_head()
    return pmt_context.get_admin_context()


def _warn(message):
    print(f"WARNING: {message}", file=sys.stderr)


# -- db ----------------------------------------------------------------------


class DbSync(app.Command):
    """Upgrade the schema of an empty or older database."""

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        parser.add_argument(
            "--revision", default="head", help="Revision to upgrade to (default: head)."
        )
        return parser

    def take_action(self, parsed_args):
        known = migration.known_revisions()
        if parsed_args.revision not in ("head", *known):
            common.fail(
                f"--revision {parsed_args.revision!r} is not a revision of this "
                f"release (known: {', '.join(known)}, or head)"
            )
        engine = common.prepare_database()
        before = migration.current_revision(engine)
        migration.upgrade(engine, parsed_args.revision)
        after = migration.current_revision(engine)
        if before == after:
            print(f"Database schema already at {after}.")
        else:
            print(f"Database schema upgraded from {before or 'empty'} to {after}.")


class DbVersion(app.Command):
    """Print the schema revision and whether it is current."""

    def take_action(self, parsed_args):
        engine = common.prepare_database()
        current = migration.current_revision(engine)
        head = migration.head_revision()
        state = "up to date" if current == head else f"head is {head}: run 'db sync'"
        print(f"{current or 'empty'} ({state})")


# -- hosts and namespaces -----------------------------------------------------

_SYNC_KEYS = ("added", "updated", "removed", "unavailable", "kept_dirty", "rewiped")


class HostSync(app.Command):
    """Run the periodic pass of every host the file describes, now: report
    their namespaces, roll back abandoned moves, wipe released namespaces."""

    def take_action(self, parsed_args):
        context = _open_database()
        reports = deployment.configured(CONF).start(context)
        for host, nodes in sorted(reports.items()):
            for node, report in sorted(nodes.items()):
                changed = ", ".join(
                    f"{len(report[key])} {key.replace('_', ' ')}"
                    for key in _SYNC_KEYS
                    if report.get(key)
                )
                print(f"{host} ({node}): inventory reported; {changed or 'no change'}")


class HostList(app.Lister):
    """List the compute nodes in the database."""

    def take_action(self, parsed_args):
        return listing.HOST_COLUMNS, listing.host_rows(_open_database())


def _guests_of_reachable_hosts(nodes):
    """{host: guests} for the listed hosts this process's config drives; the
    others are shown as the database sees them."""
    managers = deployment.configured(CONF).managers
    guests = {}
    for host in sorted({node.host for node in nodes} & set(managers)):
        try:
            guests[host] = listing.guests_on(managers[host])
        except exception.HypervisorUnavailable as err:
            _warn(f"{err}; {host} is shown as the database sees it")
    return guests


class PmemList(app.Lister):
    """List every namespace and whether it is free."""

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        parser.add_argument(
            "--host", dest="compute_host", help="Only the namespaces of this host."
        )
        return parser

    def take_action(self, parsed_args):
        context = _open_database()
        nodes = listing.compute_nodes(context, parsed_args.compute_host)
        guests = _guests_of_reachable_hosts(nodes)
        rows = []
        for node in nodes:
            rows.extend(listing.pmem_rows(context, node, guests.get(node.host)))
        return listing.PMEM_COLUMNS, rows


class PmemAudit(app.Lister):
    """Compare the database with the hypervisors and devices of the hosts
    the file describes; exit 1 when they disagree. Changes nothing."""

    def take_action(self, parsed_args):
        context = _open_database()
        self.findings = audit.audit(context, deployment.configured(CONF))
        return audit.COLUMNS, [finding.row() for finding in self.findings]

    def run(self, parsed_args):
        super().run(parsed_args)
        if not self.findings and parsed_args.formatter == "table":
            print(f"No drift found on {CONF.host}.")
        return 1 if self.findings else 0


# -- moves ---------------------------------------------------------------------


class MigrationList(app.Lister):
    """Moves in flight, with their step (status, task state) and the seconds
    since their last update."""

    def take_action(self, parsed_args):
        return migrations.COLUMNS, migrations.rows(_open_database())


def _driven_managers(migration):
    """The hosts of the move this process's config drives, started, so the
    roll-back also removes the guest and wipes there; the others finish their
    part in their own periodic pass."""
    managers = deployment.configured(CONF).managers
    if not set(managers) & {migration.source_compute, migration.dest_compute}:
        return {}
    for manager in managers.values():
        manager.driver.init_host(manager.host)
    return managers


class MigrationRecover(app.ShowOne):
    """Roll back a move whose process died: the instance runs on its source
    with its data, the destination's namespaces are wiped."""

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        parser.add_argument(
            "migration_uuid", metavar="MIGRATION", help="Migration uuid."
        )
        parser.add_argument(
            "--force",
            action="store_true",
            help="Also a move updated within [migration] recovery_timeout (make "
            "sure its process is gone).",
        )
        return parser

    def take_action(self, parsed_args):
        context = _open_database()
        migration = migrations.recover(context, CONF, parsed_args.migration_uuid,
                                       _driven_managers, force=parsed_args.force)  # fmt: skip
        return migrations.RECOVERED_COLUMNS, migrations.recovered_row(migration)


# -- quota -----------------------------------------------------------------------


def _project_and_class(parser):
    parser.add_argument("--project", required=True, help="Project ID.")
    parser.add_argument(
        "--class",
        dest="resource_class",
        required=True,
        metavar="RESOURCE_CLASS",
        help="Resource class (CUSTOM_PMEM_NAMESPACE_MEDIUM) or label (medium).",
    )
    return parser


class QuotaShow(app.Lister):
    """Limits in force and usage: one project's, or (without --project) those
    of every project with an override or an instance."""

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        parser.add_argument("--project", help="Project ID (default: every project).")
        return parser

    def take_action(self, parsed_args):
        if parsed_args.project is None:
            return quotas.COLUMNS, quotas.show_all(_open_database(), CONF.quota)
        project = quotas.parse_project(parsed_args.project)
        return quotas.COLUMNS, quotas.show(_open_database(), project, CONF.quota)


class QuotaSet(app.ShowOne):
    """Override a limit for a project."""

    def get_parser(self, prog_name):
        parser = _project_and_class(super().get_parser(prog_name))
        parser.add_argument(
            "--limit",
            required=True,
            help="Namespaces the project may hold; -1: no limit.",
        )
        return parser

    def take_action(self, parsed_args):
        project = quotas.parse_project(parsed_args.project)
        rc = quotas.normalize_class(parsed_args.resource_class)
        limit = quotas.parse_limit(parsed_args.limit)
        row = quotas.set_limit(_open_database(), project, rc, limit, CONF.quota)
        warning = quotas.over_limit(row)
        if warning:
            _warn(warning)
        return quotas.COLUMNS, row


class QuotaUnset(app.ShowOne):
    """Remove a project's override of a limit."""

    def get_parser(self, prog_name):
        return _project_and_class(super().get_parser(prog_name))

    def take_action(self, parsed_args):
        project = quotas.parse_project(parsed_args.project)
        rc = quotas.normalize_class(parsed_args.resource_class)
        return quotas.COLUMNS, quotas.unset_limit(
            _open_database(), project, rc, CONF.quota
        )


# -- flavors -------------------------------------------------------------------


class FlavorCreate(app.ShowOne):
    """Create a flavor; hw:pmem labels must be known."""

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        parser.add_argument("flavor_name", metavar="NAME", help="Flavor name.")
        parser.add_argument("--ram", required=True, help="Memory in MiB.")
        parser.add_argument("--vcpus", required=True, help="Number of vCPUs.")
        parser.add_argument(
            "--property",
            action="append",
            metavar="KEY=VALUE",
            help="An extra spec, for example hw:pmem=MEDIUM,LARGE (repeat for more).",
        )
        parser.add_argument("--id", dest="flavorid", help="Flavor ID (default: NAME).")
        return parser

    def take_action(self, parsed_args):
        args = parsed_args
        row = flavors.create(_open_database(), args.flavor_name, args.ram, args.vcpus,
                             args.property, args.flavorid, CONF.quota)  # fmt: skip
        return flavors.COLUMNS, row


class FlavorList(app.Lister):
    """List the flavors."""

    def take_action(self, parsed_args):
        return flavors.COLUMNS, flavors.rows(_open_database())


class FlavorDelete(app.Command):
    """Delete a flavor; instances keep their copy of it."""

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        parser.add_argument("flavor_name", metavar="NAME", help="Flavor name.")
        return parser

    def take_action(self, parsed_args):
        name = parsed_args.flavor_name
        objects.Flavor.destroy_by_name(_open_database(), name)
        print(f"Flavor {name} deleted; instances keep their copy of it.")


COMMANDS = {
    "db sync": DbSync,
    "db version": DbVersion,
    "host list": HostList,
    "host sync": HostSync,
    "pmem list": PmemList,
    "pmem audit": PmemAudit,
    "migration list": MigrationList,
    "migration recover": MigrationRecover,
    "quota show": QuotaShow,
    "quota set": QuotaSet,
    "quota unset": QuotaUnset,
    "flavor create": FlavorCreate,
    "flavor list": FlavorList,
    "flavor delete": FlavorDelete,
}


def main(argv=None):
    application = app.App(
        "pmemtrack-manage",
        "Operator commands that act on the pmemtrack database directly.",
        COMMANDS,
    )
    return app.main(application, argv)
