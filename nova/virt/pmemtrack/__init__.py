"""What nova-compute imports for ``compute_driver = pmemtrack.LibvirtDriver``.

nova-compute loads ``nova.virt.<compute_driver>``, so an out-of-tree driver
ships this one module inside Nova's tree; the driver itself lives in
pmemtrack (``pmemtrack.nova.driver``).
"""

from pmemtrack.nova.driver import LibvirtDriver

__all__ = ["LibvirtDriver"]
