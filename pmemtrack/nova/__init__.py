"""The adapter nova-compute loads: Nova's libvirt driver with pmemtrack's vPMEM.

Imported only inside a Nova environment (``nova.virt.pmemtrack``); nothing
else in pmemtrack imports it.
"""
