"""The console scripts as cliff applications, as python-openstackclient is.

cliff gives every command its parser, ``help``, and for listings and shows
the formats OpenStack clients print (``-f table|json|yaml|value|csv``,
``-c COLUMN``, ``--fit-width``). oslo.config still reads the config files and
oslo.log still writes the logs: the application hands them the global options
(``--config-file``, ``--debug``, ``--log-file``...) before the command runs.
Every error ends as one line on stderr and a non-zero exit, never a traceback.
"""

import sys

from cliff import app
from cliff import command
from cliff import commandmanager
from cliff import lister
from cliff import show
from oslo_log import log as logging

from pmemtrack import exception
from pmemtrack import version
from pmemtrack.cmd import common
from pmemtrack.conf import CONF

LOG = logging.getLogger(__name__)


class App(app.App):
    """One console script: its commands, and how it loads its configuration.

    ``default_config_files``: None for oslo.config's search (~/.pmemtrack,
    /etc/pmemtrack...), [] for none. ``quiet``: loggers that say only warnings
    unless a log file or --debug asks for more. ``cli_opts``: oslo.config
    options of this script alone (the client's --state-dir).
    """

    def __init__(self, name, description, commands, default_config_files=None,
                 quiet=(), cli_opts=()):  # fmt: skip
        manager = commandmanager.CommandManager(None)
        for command_name, factory in commands.items():
            manager.add_command(command_name, factory)
        self.NAME = name
        self._default_config_files = default_config_files
        self._quiet = list(quiet)
        self._cli_opts = list(cli_opts)
        super().__init__(
            description=description,
            version=version.RELEASE,
            command_manager=manager,
        )

    def build_option_parser(self, description, version, argparse_kwargs=None):
        parser = super().build_option_parser(description, version, argparse_kwargs)
        parser.add_argument(
            "--config-file",
            action="append",
            default=[],
            metavar="PATH",
            help="Configuration file; may be repeated (later ones win).",
        )
        parser.add_argument(
            "--config-dir",
            action="append",
            default=[],
            metavar="DIR",
            help="Directory of *.conf files, read after --config-file.",
        )
        parser.add_argument(
            "--log-dir",
            metavar="DIR",
            help="Write the log (the audit trail) to a file in DIR.",
        )
        for opt in self._cli_opts:
            parser.add_argument(f"--{opt.name}", dest=opt.dest, help=opt.help)
        return parser

    def configure_logging(self):
        """Nothing here: oslo.log is set up in initialize_app, once the
        config files (which may name a log file) are read."""

    def initialize_app(self, argv):
        CONF.register_cli_opts(self._cli_opts)
        common.parse_args(
            self._oslo_argv(),
            self.NAME,
            quiet=self._quiet,
            default_config_files=self._default_config_files,
        )

    def _oslo_argv(self):
        """The global options as oslo.config parses them."""
        options = self.options
        argv = []
        for path in options.config_file:
            argv += ["--config-file", path]
        for path in options.config_dir:
            argv += ["--config-dir", path]
        if options.debug:
            argv.append("--debug")
        if options.log_file:
            argv += ["--log-file", options.log_file]
        if options.log_dir:
            argv += ["--log-dir", options.log_dir]
        for opt in self._cli_opts:
            value = getattr(options, opt.dest)
            if value is not None:
                argv += [f"--{opt.name}", value]
        return argv

    def run_subcommand(self, argv):
        try:
            self.command_manager.find_command(argv)
        except ValueError:
            known = sorted(name for name, _ in self.command_manager)
            common.fail(
                f"'{' '.join(argv)}' is not a {self.NAME} command; "
                f"'{self.NAME} help' lists them ({', '.join(known)})",
                code=2,
            )
        return super().run_subcommand(argv)

    def run(self, argv):
        if not argv:
            # cliff would start an interactive shell; a script prints help.
            argv = ["help"]
        return super().run(argv)


def _one_line(err):
    """End the command with one line naming what went wrong."""
    if isinstance(err, exception.PmemtrackException):
        common.fail(err)
    if isinstance(err, common.DATABASE_ERRORS):
        common.fail(f"database {common.safe_url()}: {common.first_line(err)}")
    # One line for the operator; --debug has the trace.
    LOG.debug("Unexpected error", exc_info=True)
    common.fail(f"unexpected {type(err).__name__}: {err} (run with --debug)")


class _OneLineErrors:
    def run(self, parsed_args):
        try:
            return super().run(parsed_args)
        except Exception as err:
            _one_line(err)


class Command(_OneLineErrors, command.Command):
    """A command that prints text of its own (or nothing)."""


class Lister(_OneLineErrors, lister.Lister):
    """A listing: an empty one still prints its header, so "no rows" is
    plain to see and is not taken for a command that failed."""

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        parser.set_defaults(print_empty=True)
        return parser


class ShowOne(_OneLineErrors, show.ShowOne):
    """One object, as Field/Value rows."""


def main(application, argv=None):
    return application.run(sys.argv[1:] if argv is None else argv)
