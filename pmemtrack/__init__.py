"""pmemtrack: race-free virtual persistent memory for OpenStack compute hosts."""

import warnings

# oslo.versionedobjects imports oslo.messaging, which imports oslo.service with its
# default eventlet backend. pmemtrack never runs eventlet; without this filter every
# command would print eventlet's deprecation banner.
warnings.filterwarnings("ignore", message=r"\s*Eventlet is deprecated")
