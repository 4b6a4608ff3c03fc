"""The libvirt compute driver and its pure-Python libvirt stand-in."""
