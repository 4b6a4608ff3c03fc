"""Check a loaded configuration up front, naming the option and the bad value.

oslo.config only converts a value when it is first read, so a typo would otherwise
surface deep inside a command. Reading every option once at start-up turns it into
one clear error before anything changes.
"""

import configparser

from oslo_config import cfg
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import url as sa_url

from pmemtrack import exception
from pmemtrack.conf import hosts


class InvalidConfig(exception.PmemtrackException):
    msg_fmt = "Invalid configuration: [%(group)s] %(option)s = %(value)r: %(reason)s"


def _raw_value(conf, group, option):
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    for path in reversed(conf.config_file or []):
        try:
            parser.read(path)
        except configparser.Error:
            continue
        if parser.has_option(group, option):
            return parser.get(group, option)
    return None


def _reason(err):
    text = str(err)
    marker = "is not valid: "
    return text.split(marker, 1)[1] if marker in text else text


def _options(conf):
    """(section, option name, reader) for every registered option."""
    for name in sorted(conf.keys()):
        try:
            value = conf[name]
        except cfg.ConfigFileValueError:
            value = None
        if isinstance(value, cfg.ConfigOpts.GroupAttr):
            for option in sorted(value.keys()):
                yield name, option, lambda g=value, o=option: g[o]
        else:
            yield "DEFAULT", name, lambda n=name: conf[n]


def check(conf):
    """Read every registered option; raise InvalidConfig for the first bad one."""
    for section, option, read in _options(conf):
        try:
            read()
        except (cfg.ConfigFileValueError, ValueError) as err:
            raise InvalidConfig(
                group=section,
                option=option,
                value=_raw_value(conf, section, option),
                reason=_reason(err),
            )
    _check_connection(conf)
    _check_hosts(conf)


def _check_connection(conf):
    """A [database] connection SQLAlchemy cannot parse would otherwise end in
    its traceback at the first query."""
    if "database" not in conf or conf.database.connection is None:
        return
    try:
        sa_url.make_url(conf.database.connection)
    except sa_exc.ArgumentError:
        raise InvalidConfig(
            group="database",
            option="connection",
            value=_raw_value(conf, "database", "connection"),
            reason="not a database URL, for example "
            "sqlite:////var/lib/pmemtrack/pmemtrack.sqlite or "
            "mysql+pymysql://USER:PASSWORD@HOST/pmemtrack",
        )


def _check_hosts(conf):
    """Each host of a multi-host file once, with a hypervisor, and simulated
    hosts on devices of their own (a shared directory would hand one file to
    two hosts' instances)."""
    if "compute_hosts" not in conf or not conf.compute_hosts:
        return
    listed = conf.compute_hosts

    def bad(option, value, reason, group="DEFAULT"):
        return InvalidConfig(group=group, option=option, value=value, reason=reason)

    if len(set(listed)) != len(listed) or conf.host in listed:
        raise bad("compute_hosts", ",".join(listed),
                  f"each host once, and not [DEFAULT] host ({conf.host})")  # fmt: skip
    simulated = {}
    if conf.pmem.backend == "simulated":
        simulated[conf.pmem.simulated_path] = conf.host
    for host in listed:
        group = hosts.group_name(host)
        section = conf[group]
        if not section.connection_uri:
            raise bad("connection_uri", None, f"required for host {host}", group)
        if (section.backend or conf.pmem.backend) != "simulated":
            continue
        path = section.simulated_path
        if not path or path in simulated:
            other = simulated.get(path)
            reason = (
                f"already {other}'s" if other else "required with the simulated backend"
            )
            raise bad("simulated_path", path, reason, group)
        simulated[path] = host
