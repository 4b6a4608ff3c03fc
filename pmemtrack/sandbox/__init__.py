"""The sandbox: everything the embedded default (``pmemtrack demo``) and the
tests run on, in place of hardware and remote hosts. Simulated namespaces and
the ndctl/daxctl/daxio stand-ins that work on them, a private sshd on
127.0.0.1, the embedded two-host deployment and the demo's story.

Production modules never import it; ``pmemtrack.cmd`` does, for the embedded
default and the demo.
"""
