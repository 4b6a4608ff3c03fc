"""pmemtrack-manage: operator commands that act on the database directly."""

import sys

from oslo_config import cfg

from pmemtrack import context as pmt_context
from pmemtrack import deployment
from pmemtrack import exception
from pmemtrack import objects
from pmemtrack.cmd import audit
from pmemtrack.cmd import common
from pmemtrack.cmd import flavors
from pmemtrack.cmd import listing
from pmemtrack.cmd import migrations
from pmemtrack.cmd import output
from pmemtrack.cmd import quotas
from pmemtrack.conf import CONF
from pmemtrack.db import migration


def db_sync():
    known = migration.known_revisions()
    if CONF.category.revision not in ("head", *known):
        common.fail(
            f"--revision {CONF.category.revision!r} is not a revision of this "
            f"release (known: {', '.join(known)}, or head)"
        )
    engine = common.prepare_database()
    before = migration.current_revision(engine)
    migration.upgrade(engine, CONF.category.revision)
    after = migration.current_revision(engine)
    if before == after:
        print(f"Database schema already at {after}.")
    else:
        print(f"Database schema upgraded from {before or 'empty'} to {after}.")


def db_version():
    engine = common.prepare_database()
    current = migration.current_revision(engine)
    head = migration.head_revision()
    state = "up to date" if current == head else f"head is {head}: run 'db sync'"
    print(f"{current or 'empty'} ({state})")


def _open_database():
    """A context on a database whose schema is at head (see common)."""
    common.open_database_at_head()
    return pmt_context.get_admin_context()


def _warn(message):
    print(f"WARNING: {message}", file=sys.stderr)


def host_sync():
    """This host's periodic pass, now: inventory reported, abandoned moves
    rolled back, released namespaces wiped."""
    context = _open_database()
    reports = deployment.configured(CONF).start(context)
    for host, nodes in sorted(reports.items()):
        for node, report in sorted(nodes.items()):
            changed = ", ".join(
                f"{len(report[key])} {key.replace('_', ' ')}"
                for key in (
                    "added",
                    "updated",
                    "removed",
                    "unavailable",
                    "kept_dirty",
                    "rewiped",
                )  # fmt: skip
                if report.get(key)
            )
            print(f"{host} ({node}): inventory reported; {changed or 'no change'}")


def host_list():
    context = _open_database()
    rows = listing.host_rows(context)
    output.emit(listing.HOST_COLUMNS, rows, CONF.category.format)


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


def pmem_list():
    context = _open_database()
    nodes = listing.compute_nodes(context, CONF.category.compute_host)
    guests = _guests_of_reachable_hosts(nodes)
    rows = []
    for node in nodes:
        rows.extend(listing.pmem_rows(context, node, guests.get(node.host)))
    output.emit(listing.PMEM_COLUMNS, rows, CONF.category.format)


def pmem_audit():
    context = _open_database()
    findings = audit.audit(context, deployment.configured(CONF))
    fmt = CONF.category.format
    output.emit(audit.COLUMNS, [finding.row() for finding in findings], fmt)
    if not findings and fmt == "table":
        print(f"No drift found on {CONF.host}.")
    return 1 if findings else 0


def migration_list():
    context = _open_database()
    output.emit(migrations.COLUMNS, migrations.rows(context), CONF.category.format)


def _driven_managers(migration):
    """The hosts of the move this process's config drives, started, so the
    roll-back also removes the guest and wipes there; the others finish their
    part in their own periodic pass."""
    if CONF.host not in (migration.source_compute, migration.dest_compute):
        return {}
    managers = deployment.configured(CONF).managers
    for manager in managers.values():
        manager.driver.init_host(manager.host)
    return managers


def migration_recover():
    context = _open_database()
    migration = migrations.recover(
        context,
        CONF,
        CONF.category.migration_uuid,
        _driven_managers,
        force=CONF.category.force,
    )
    migrations.show_recovered(migration, CONF.category.format)


def flavor_create():
    args = CONF.category
    context = _open_database()
    row = flavors.create(context, args.flavor_name, args.ram, args.vcpus, args.property,
                         args.flavorid, CONF.quota)  # fmt: skip
    output.emit(flavors.COLUMNS, [row], args.format, single=True)


def flavor_list():
    context = _open_database()
    output.emit(flavors.COLUMNS, flavors.rows(context), CONF.category.format)


def flavor_delete():
    context = _open_database()
    name = CONF.category.flavor_name
    objects.Flavor.destroy_by_name(context, name)
    print(f"Flavor {name} deleted; instances keep their copy of it.")


def quota_show():
    """One project's limits and usage; without --project, every project's
    that has an override or an instance."""
    if CONF.category.project is None:
        context = _open_database()
        rows = quotas.show_all(context, CONF.quota)
    else:
        project = quotas.parse_project(CONF.category.project)
        context = _open_database()
        rows = quotas.show(context, project, CONF.quota)
    output.emit(quotas.COLUMNS, rows, CONF.category.format)


def quota_set():
    project = quotas.parse_project(CONF.category.project)
    rc = quotas.normalize_class(CONF.category.resource_class)
    limit = quotas.parse_limit(CONF.category.limit)
    context = _open_database()
    row = quotas.set_limit(context, project, rc, limit, CONF.quota)
    warning = quotas.over_limit(row)
    if warning:
        _warn(warning)
    output.emit(quotas.COLUMNS, [row], CONF.category.format, single=True)


def quota_unset():
    project = quotas.parse_project(CONF.category.project)
    rc = quotas.normalize_class(CONF.category.resource_class)
    context = _open_database()
    row = quotas.unset_limit(context, project, rc, CONF.quota)
    output.emit(quotas.COLUMNS, [row], CONF.category.format, single=True)


def _category(subparsers, name, help_text):
    parser = subparsers.add_parser(name, help=help_text)
    actions = parser.add_subparsers(dest="action", metavar="ACTION")
    actions.required = True
    return actions


def _command(actions, name, func, help_text, formatted=True):
    parser = actions.add_parser(name, help=help_text)
    parser.set_defaults(func=func)
    if formatted:
        output.add_format_argument(parser)
    return parser


def _add_db_parsers(subparsers):
    db = _category(subparsers, "db", "Database schema commands.")
    sync = _command(
        db, "sync", db_sync, "Upgrade the schema of an empty or older database.", False
    )
    sync.add_argument(
        "--revision", default="head", help="Revision to upgrade to (default: head)."
    )
    _command(db, "version", db_version, "Print the schema revision.", False)


def _add_pmem_parsers(subparsers):
    host = _category(subparsers, "host", "Compute hosts.")
    _command(host, "list", host_list, "List the compute nodes in the database.")
    _command(
        host,
        "sync",
        host_sync,
        "Run this host's periodic pass now: report its namespaces, roll back "
        "abandoned moves, wipe released namespaces.",
        False,
    )
    pmem = _category(subparsers, "pmem", "PMEM namespaces.")
    listed = _command(
        pmem, "list", pmem_list, "List every namespace and whether it is free."
    )
    listed.add_argument(
        "--host", dest="compute_host", help="Only the namespaces of this compute host."
    )
    _command(
        pmem,
        "audit",
        pmem_audit,
        "Compare the database with this host's hypervisor and devices; exit 1 "
        "when they disagree. Changes nothing.",
    )


def _add_quota_parsers(subparsers):
    quota = _category(subparsers, "quota", "Per-project PMEM quota.")
    show = _command(quota, "show", quota_show, "Limits in force and usage.")
    setter = _command(quota, "set", quota_set, "Override a limit for a project.")
    unset = _command(
        quota, "unset", quota_unset, "Remove a project's override of a limit."
    )
    show.add_argument("--project", help="Project ID (default: every project).")
    for parser in (setter, unset):
        parser.add_argument("--project", required=True, help="Project ID.")
    for parser in (setter, unset):
        parser.add_argument(
            "--class",
            dest="resource_class",
            required=True,
            metavar="RESOURCE_CLASS",
            help="Resource class (CUSTOM_PMEM_NAMESPACE_MEDIUM) or label (medium).",
        )
    setter.add_argument(
        "--limit", required=True, help="Namespaces the project may hold; -1: no limit."
    )


def _add_flavor_parsers(subparsers):
    flavor = _category(
        subparsers, "flavor", "Flavors: sizes and the PMEM they ask for."
    )
    create = _command(flavor, "create", flavor_create, "Create a flavor.")
    # "name" is the category's own attribute on CONF.category.
    create.add_argument("flavor_name", metavar="NAME", help="Flavor name.")
    create.add_argument("--ram", required=True, help="Memory in MiB.")
    create.add_argument("--vcpus", required=True, help="Number of vCPUs.")
    create.add_argument(
        "--property",
        action="append",
        metavar="KEY=VALUE",
        help="An extra spec, for example hw:pmem=MEDIUM,LARGE (repeat for more).",
    )
    create.add_argument("--id", dest="flavorid", help="Flavor ID (default: NAME).")
    _command(flavor, "list", flavor_list, "List the flavors.")
    delete = _command(flavor, "delete", flavor_delete, "Delete a flavor.", False)
    delete.add_argument("flavor_name", metavar="NAME", help="Flavor name.")


def _add_migration_parsers(subparsers):
    migration = _category(subparsers, "migration", "Resizes and cold migrations.")
    _command(
        migration,
        "list",
        migration_list,
        "Moves in flight, with their step (status, task state) and the seconds "
        "since their last update.",
    )
    recover = _command(
        migration,
        "recover",
        migration_recover,
        "Roll back a move whose process died: the instance runs on its source "
        "with its data, the destination's namespaces are wiped.",
    )
    recover.add_argument("migration_uuid", metavar="MIGRATION", help="Migration uuid.")
    recover.add_argument(
        "--force",
        action="store_true",
        help="Also a move updated within [migration] recovery_timeout (make "
        "sure its process is gone).",
    )


def add_command_parsers(subparsers):
    _add_db_parsers(subparsers)
    _add_pmem_parsers(subparsers)
    _add_migration_parsers(subparsers)
    _add_quota_parsers(subparsers)
    _add_flavor_parsers(subparsers)


category_opt = cfg.SubCommandOpt(
    "category", title="Commands", handler=add_command_parsers
)


def main(argv=None):
    CONF.register_cli_opt(category_opt)
    common.parse_args(sys.argv[1:] if argv is None else argv, "pmemtrack-manage")
    try:
        return CONF.category.func() or 0
    except exception.PmemtrackException as err:
        common.fail(err)
    except common.DATABASE_ERRORS as err:
        common.fail(f"database {common.safe_url()}: {common.first_line(err)}")
