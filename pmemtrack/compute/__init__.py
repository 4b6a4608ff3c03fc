"""The compute service: runs instance operations on this host, in Nova's order."""
