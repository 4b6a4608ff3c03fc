"""Versions a running pmemtrack service reports about itself.

SERVICE_VERSION is stored on the compute node row so that a source host can tell
whether its destination understands a request before it starts a move.  Bump it
whenever a compute host learns to do something its peers must be able to detect.
"""

# 1: claims, move claims and wiping.
# 2: the destination can receive namespace data copied over SSH (copy_pmem_devices).
SERVICE_VERSION = 2

# The lowest destination service version that can receive copied PMEM data.
MIN_VERSION_COPY_PMEM = 2

RELEASE = "0.1.0"
