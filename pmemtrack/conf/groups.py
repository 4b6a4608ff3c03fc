"""Registering an option group on a ConfigOpts."""

from oslo_config import cfg


def register(conf, group, opts):
    # A fresh OptGroup per ConfigOpts: oslo.config keeps a registered group's
    # option table, overrides included, on the group object, so two ConfigOpts
    # sharing one module-level group would share each other's overrides.
    conf.register_group(cfg.OptGroup(group.name, title=group.title, help=group.help))
    conf.register_opts(opts, group=group.name)
