"""The libvirt compute driver: namespace discovery, guest XML with nvdimm
devices, write leases and the privileged tools."""
