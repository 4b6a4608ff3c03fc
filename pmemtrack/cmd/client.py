"""pmemtrack: instances with PMEM on the configured deployment, and the demo.

Without ``--config-file`` every command acts on the embedded default under
``--state-dir``; with one, on the hosts that file describes.
"""

import atexit
import sys

from oslo_config import cfg
from oslo_log import log as logging
from oslo_utils import uuidutils

from pmemtrack import conf as pmt_conf
from pmemtrack import context as pmt_context
from pmemtrack import deployment
from pmemtrack import exception
from pmemtrack import objects
from pmemtrack.cmd import common
from pmemtrack.cmd import migrations
from pmemtrack.cmd import output
from pmemtrack.cmd import progress_bar
from pmemtrack.conf import CONF

LOG = logging.getLogger(__name__)
SERVER_COLUMNS = ("id", "name", "host", "vm_state", "power_state", "flavor", "pmem")
_POWER = {0: "nostate", 1: "running", 3: "paused", 4: "shutdown", 6: "crashed"}


def _open_deployment(copies=False, start=True):
    """The deployment, closed (its sshd stopped) when the command exits; the
    embedded default runs its loopback sshd only for moves. A command that
    changes something first runs every host's periodic pass (``start``);
    one that only reads does not, so it writes nothing."""
    if CONF.config_file:
        common.open_database_at_head()
        found = deployment.configured(CONF)
    else:
        found = deployment.embedded(CONF.state_dir, loopback_ssh=copies)
    atexit.register(found.close)
    context = pmt_context.get_admin_context()
    if start:
        found.start(context)
    return found, context


def _find(context, ident):
    """An instance by uuid or by name; a name must be unique."""
    attrs = ["flavor", "resources"]
    if uuidutils.is_uuid_like(ident):
        try:
            return objects.Instance.get_by_uuid(context, ident, attrs)
        except exception.InstanceNotFound:
            raise exception.ServerNotFound(server=ident, detail="")
    named = [
        i
        for i in objects.InstanceList.get_all(context, attrs)
        if i.display_name == ident
    ]
    if len(named) != 1:
        detail = (
            f" ({len(named)} instances share that name: use the id)" if named else ""
        )
        raise exception.ServerNotFound(server=ident, detail=detail)
    return named[0]


def _pmem(instance):
    resources = instance.resources.objects if instance.resources else []
    return ", ".join(
        f"{r.metadata.label}:{r.identifier}@{r.metadata.devpath}" for r in resources
    )


def server_row(instance):
    return (
        instance.uuid,
        instance.display_name or "",
        instance.host or "",
        instance.vm_state or "",
        _POWER.get(instance.power_state, "nostate"),
        instance.flavor.name if instance.flavor else "",
        _pmem(instance),
    )


def _show(instance):
    output.emit(SERVER_COLUMNS, [server_row(instance)], CONF.command.format, True)


# -- commands ---------------------------------------------------------------


def server_create():
    found, context = _open_deployment()
    flavor = objects.Flavor.get_by_name(context, CONF.command.flavor)
    host = CONF.command.target_host or sorted(found.managers)[0]
    instance = found.api.create(
        context, flavor, host, CONF.command.project, name=CONF.command.server_name
    )
    _show(instance)


def server_list():
    found, context = _open_deployment(start=False)
    if CONF.command.target_host:
        found.api.check_host(CONF.command.target_host)
    instances = objects.InstanceList.get_all(context, ["flavor", "resources"])
    rows = [
        server_row(i)
        for i in instances
        if not CONF.command.target_host or i.host == CONF.command.target_host
    ]
    output.emit(SERVER_COLUMNS, rows, CONF.command.format)


def server_show():
    _found, context = _open_deployment(start=False)
    _show(_find(context, CONF.command.server))


def _move(action):
    found, context = _open_deployment(copies=True)
    instance = _find(context, CONF.command.server)
    bar = progress_bar.ProgressBar(sys.stderr)
    kwargs = dict(copy_pmem_devices=CONF.command.copy_pmem_devices, progress=bar)
    try:
        if action == "resize":
            flavor = objects.Flavor.get_by_name(context, CONF.command.flavor)
            found.api.resize(
                context, instance, flavor, CONF.command.target_host, **kwargs
            )
        else:
            found.api.migrate(context, instance, CONF.command.target_host, **kwargs)
    finally:
        bar.close()
    _show(instance)


def _simple(call):
    def command():
        found, context = _open_deployment()
        instance = _find(context, CONF.command.server)
        call(found, context, instance)
        if instance.vm_state != "deleted":
            _show(objects.Instance.get_by_uuid(context, instance.uuid, ["flavor",
                                                                      "resources"]))  # fmt: skip

    return command


def _delete(found, context, instance):
    found.api.delete(context, instance)
    instance.vm_state = "deleted"
    output.emit(("id", "deleted"), [(instance.uuid, True)], CONF.command.format, True)


SIMPLE = {
    "confirm": lambda found, ctx, inst: found.api.confirm(ctx, inst),
    "revert": lambda found, ctx, inst: found.api.revert(ctx, inst),
    "stop": lambda found, ctx, inst: found.api.stop(ctx, inst),
    "start": lambda found, ctx, inst: found.api.start(ctx, inst),
    "delete": _delete,
}


def _reboot(found, context, instance):
    kind = "HARD" if CONF.command.hard else "SOFT"
    found.api.reboot(context, instance, kind)


def migration_list():
    _found, context = _open_deployment(start=False)
    output.emit(migrations.COLUMNS, migrations.rows(context), CONF.command.format)


def migration_recover():
    found, context = _open_deployment()
    migration = migrations.recover(
        context,
        CONF,
        CONF.command.migration_uuid,
        lambda _: found.managers,
        force=CONF.command.force,
    )
    migrations.show_recovered(migration, CONF.command.format)


def _migration_parsers(subparsers):
    migration = subparsers.add_parser("migration", help="Resizes and migrations.")
    actions = migration.add_subparsers(dest="action", metavar="ACTION")
    actions.required = True
    listing = actions.add_parser(
        "list", help="Moves in flight, with their step and age."
    )
    listing.set_defaults(func=migration_list)
    recover = actions.add_parser("recover", help="Roll back a move whose process died.")
    recover.add_argument("migration_uuid", metavar="MIGRATION")
    recover.add_argument(
        "--force",
        action="store_true",
        help="Also a move updated within [migration] recovery_timeout.",
    )
    recover.set_defaults(func=migration_recover)
    for parser in (listing, recover):
        output.add_format_argument(parser)


def add_command_parsers(subparsers):
    demo = subparsers.add_parser("demo", help="Run the operator's story end to end.")
    output.add_format_argument(demo)
    demo.add_argument(
        "--keep",
        action="store_true",
        help="Keep the demo's state directory (DB, simulated devices) at the end.",
    )
    demo.set_defaults(func=lambda: sys.exit(_demo_main()))
    server = subparsers.add_parser("server", help="Instances with PMEM.")
    actions = server.add_subparsers(dest="action", metavar="ACTION")
    actions.required = True
    _server_parsers(actions)
    _migration_parsers(subparsers)


def _server_parsers(actions):
    create = actions.add_parser("create", help="Boot an instance.")
    create.add_argument("server_name", metavar="NAME")
    create.add_argument("--flavor", required=True, help="Flavor name.")
    create.add_argument(
        "--host", dest="target_host", help="Compute host (default: the first)."
    )
    create.add_argument("--project", default="demo", help="Project id.")
    create.set_defaults(func=server_create)
    listing = actions.add_parser("list", help="List instances.")
    listing.add_argument("--host", dest="target_host")
    listing.set_defaults(func=server_list)
    show = actions.add_parser("show", help="Show one instance.")
    show.add_argument("server", metavar="SERVER", help="Name or id.")
    show.set_defaults(func=server_show)
    for action, helptext in (("resize", "Resize (new flavor)."),
                             ("migrate", "Cold-migrate.")):  # fmt: skip
        move = actions.add_parser(action, help=helptext)
        move.add_argument("server", metavar="SERVER")
        if action == "resize":
            move.add_argument("--flavor", required=True)
        move.add_argument(
            "--host",
            dest="target_host",
            help="Destination (default: the own host with [DEFAULT] "
            "allow_resize_to_same_host, else the first other host).",
        )
        move.add_argument(
            "--copy-pmem-devices",
            action="store_true",
            help="Copy each namespace's data to the new namespaces.",
        )
        move.set_defaults(func=lambda a=action: _move(a))
    for action, call in [*SIMPLE.items(), ("reboot", _reboot)]:
        parser = actions.add_parser(action, help=f"{action.capitalize()} an instance.")
        parser.add_argument("server", metavar="SERVER")
        if action == "reboot":
            parser.add_argument("--hard", action="store_true")
        parser.set_defaults(func=_simple(call))
    for parser in actions.choices.values():
        output.add_format_argument(parser)


def _demo_main():
    # Imported here: the demo pulls in multiprocessing and the SSH server.
    from pmemtrack import demo

    return demo.run(CONF.command.format, keep=CONF.command.keep)


command_opt = cfg.SubCommandOpt(
    "command", title="Commands", handler=add_command_parsers
)
# A path, taken as typed: oslo.config would read "$x" in it as an option.
state_dir_opt = pmt_conf.LiteralStrOpt(
    "state-dir",
    dest="state_dir",
    default=pmt_conf.literal(deployment.default_state_dir()),
    help="Where the embedded default keeps its DB and simulated hosts.",
)


def main(argv=None):
    CONF.register_cli_opts([state_dir_opt, command_opt])
    # The CLI draws its own tables and progress bar; service INFO lines would
    # only bury them.
    # No config file named: the embedded default, whatever lies in ~ or /etc.
    common.parse_args(
        sys.argv[1:] if argv is None else argv,
        "pmemtrack",
        quiet=["pmemtrack=WARN"],
        default_config_files=[],
    )
    try:
        CONF.command.func()
    except exception.PmemtrackException as err:
        common.fail(err)
    except common.DATABASE_ERRORS as err:
        common.fail(f"database {common.safe_url()}: {common.first_line(err)}")
    except Exception as err:  # one line for the operator; --debug has the trace
        LOG.debug("Unexpected error", exc_info=True)
        common.fail(f"unexpected {type(err).__name__}: {err} (run with --debug)")
    return 0
