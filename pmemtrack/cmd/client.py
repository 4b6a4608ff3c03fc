"""pmemtrack: instances with PMEM on the configured deployment, and the demo.

Without ``--config-file`` every command acts on the embedded default under
``--state-dir``; with one, on the hosts that file describes.
"""

import atexit
import sys

from oslo_log import log as logging
from oslo_utils import uuidutils

from pmemtrack import conf as pmt_conf
from pmemtrack import context as pmt_context
from pmemtrack import deployment
from pmemtrack import exception
from pmemtrack import objects
from pmemtrack.cmd import app
from pmemtrack.cmd import common
from pmemtrack.cmd import migrations
from pmemtrack.cmd import progress_bar
from pmemtrack.conf import CONF
from pmemtrack.sandbox import embedded

LOG = logging.getLogger(__name__)
_ATTRS = ["flavor", "resources"]
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
        found = embedded.embedded(CONF.state_dir, loopback_ssh=copies)
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


class _Server(app.ShowOne):
    """A command on one instance, shown afterwards as ``server show`` shows it."""

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        parser.add_argument("server", metavar="SERVER", help="Name or id.")
        return parser

    def show(self, context, instance):
        instance = objects.Instance.get_by_uuid(context, instance.uuid, _ATTRS)
        return SERVER_COLUMNS, server_row(instance)


class ServerCreate(app.ShowOne):
    """Boot an instance."""

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        parser.add_argument("server_name", metavar="NAME")
        parser.add_argument("--flavor", required=True, help="Flavor name.")
        parser.add_argument(
            "--host", dest="target_host", help="Compute host (default: the first)."
        )
        parser.add_argument("--project", default="demo", help="Project id.")
        return parser

    def take_action(self, parsed_args):
        found, context = _open_deployment()
        flavor = objects.Flavor.get_by_name(context, parsed_args.flavor)
        host = parsed_args.target_host or sorted(found.managers)[0]
        instance = found.api.create(context, flavor, host, parsed_args.project,
                                    name=parsed_args.server_name)  # fmt: skip
        return SERVER_COLUMNS, server_row(instance)


class ServerList(app.Lister):
    """List instances."""

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        parser.add_argument("--host", dest="target_host", help="Only this host's.")
        return parser

    def take_action(self, parsed_args):
        found, context = _open_deployment(start=False)
        host = parsed_args.target_host
        if host:
            found.api.check_host(host)
        instances = objects.InstanceList.get_all(context, _ATTRS)
        rows = [server_row(i) for i in instances if not host or i.host == host]
        return SERVER_COLUMNS, rows


class ServerShow(_Server):
    """Show one instance."""

    def take_action(self, parsed_args):
        _found, context = _open_deployment(start=False)
        return SERVER_COLUMNS, server_row(_find(context, parsed_args.server))


class _Move(_Server):
    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        parser.add_argument(
            "--host",
            dest="target_host",
            help="Destination (default: the own host with [DEFAULT] "
            "allow_resize_to_same_host, else the first other host).",
        )
        parser.add_argument(
            "--copy-pmem-devices",
            action="store_true",
            help="Copy each namespace's data to the new namespaces.",
        )
        return parser

    def take_action(self, parsed_args):
        found, context = _open_deployment(copies=True)
        instance = _find(context, parsed_args.server)
        bar = progress_bar.ProgressBar(sys.stderr)
        try:
            self.move(found.api, context, instance, parsed_args, bar)
        finally:
            bar.close()
        return self.show(context, instance)


class ServerResize(_Move):
    """Resize an instance to a new flavor."""

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        parser.add_argument("--flavor", required=True, help="The new flavor's name.")
        return parser

    def move(self, api, context, instance, args, bar):
        flavor = objects.Flavor.get_by_name(context, args.flavor)
        api.resize(context, instance, flavor, args.target_host,
                   copy_pmem_devices=args.copy_pmem_devices, progress=bar)  # fmt: skip


class ServerMigrate(_Move):
    """Cold-migrate an instance (its flavor unchanged)."""

    def move(self, api, context, instance, args, bar):
        api.migrate(context, instance, args.target_host,
                    copy_pmem_devices=args.copy_pmem_devices, progress=bar)  # fmt: skip


def _action(call, doc):
    """A ``server ACTION SERVER`` command made of one ComputeAPI call."""

    class Action(_Server):
        __doc__ = doc

        def take_action(self, parsed_args):
            found, context = _open_deployment()
            instance = _find(context, parsed_args.server)
            call(found.api, context, instance, parsed_args)
            return self.show(context, instance)

    return Action


class ServerReboot(_action(lambda api, ctx, inst, args: api.reboot(
        ctx, inst, "HARD" if args.hard else "SOFT"), "Reboot an instance.")):  # fmt: skip
    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        parser.add_argument("--hard", action="store_true", help="Power-cycle it.")
        return parser


class ServerDelete(_Server):
    """Delete an instance; its namespaces are wiped before anyone else gets them."""

    def take_action(self, parsed_args):
        found, context = _open_deployment()
        instance = _find(context, parsed_args.server)
        found.api.delete(context, instance)
        return ("id", "deleted"), (instance.uuid, True)


class MigrationList(app.Lister):
    """Moves in flight, with their step and age."""

    def take_action(self, parsed_args):
        _found, context = _open_deployment(start=False)
        return migrations.COLUMNS, migrations.rows(context)


class MigrationRecover(app.ShowOne):
    """Roll back a move whose process died."""

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        parser.add_argument("migration_uuid", metavar="MIGRATION")
        parser.add_argument(
            "--force",
            action="store_true",
            help="Also a move updated within [migration] recovery_timeout.",
        )
        return parser

    def take_action(self, parsed_args):
        found, context = _open_deployment()
        migration = migrations.recover(context, CONF, parsed_args.migration_uuid,
                                       lambda _: found.managers,
                                       force=parsed_args.force)  # fmt: skip
        return migrations.RECOVERED_COLUMNS, migrations.recovered_row(migration)


class Demo(app.Command):
    """Run the operator's story end to end on a fresh embedded default."""

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        parser.add_argument(
            "-f",
            "--format",
            dest="format",
            choices=("table", "json", "value"),
            default="table",
            help="table: the story as text; json: one object with each step's "
            "figures; value: one line per step.",
        )
        parser.add_argument(
            "--keep",
            action="store_true",
            help="Keep the demo's state directory (DB, simulated devices) at the end.",
        )
        return parser

    def take_action(self, parsed_args):
        # Imported here: the demo pulls in multiprocessing and the SSH server.
        from pmemtrack.sandbox import demo

        return demo.run(parsed_args.format, keep=parsed_args.keep)


COMMANDS = {
    "demo": Demo,
    "server create": ServerCreate,
    "server list": ServerList,
    "server show": ServerShow,
    "server resize": ServerResize,
    "server migrate": ServerMigrate,
    "server confirm": _action(lambda api, ctx, inst, _: api.confirm(ctx, inst),
                              "Confirm a resize or migration."),
    "server revert": _action(lambda api, ctx, inst, _: api.revert(ctx, inst),
                             "Revert a resize or migration."),
    "server stop": _action(lambda api, ctx, inst, _: api.stop(ctx, inst),
                           "Stop an instance."),
    "server start": _action(lambda api, ctx, inst, _: api.start(ctx, inst),
                            "Start an instance."),
    "server reboot": ServerReboot,
    "server delete": ServerDelete,
    "migration list": MigrationList,
    "migration recover": MigrationRecover,
}  # fmt: skip

# A path, taken as typed: oslo.config would read "$x" in it as an option.
state_dir_opt = pmt_conf.LiteralStrOpt(
    "state-dir",
    dest="state_dir",
    default=pmt_conf.literal(deployment.default_state_dir()),
    help="Where the embedded default keeps its DB and simulated hosts.",
)


def main(argv=None):
    application = app.App(
        "pmemtrack",
        "Instances with PMEM on the embedded default or the hosts a config "
        "file describes, and the demo.",
        COMMANDS,
        # No config file named: the embedded default, whatever lies in ~ or /etc.
        default_config_files=[],
        # The CLI draws its own tables and progress bar; service INFO lines
        # would only bury them.
        quiet=["pmemtrack=WARN"],
        cli_opts=[state_dir_opt],
    )
    return app.main(application, argv)
