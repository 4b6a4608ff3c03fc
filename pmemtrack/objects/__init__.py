"""Versioned objects; ``register_all()`` imports every module so the registry
knows every class (and ``pmemtrack.objects.<Name>`` resolves)."""


def register_all():
    __import__("pmemtrack.objects.compute_node")
    __import__("pmemtrack.objects.flavor")
    __import__("pmemtrack.objects.host_resource")
    __import__("pmemtrack.objects.instance")
    __import__("pmemtrack.objects.migration")
    __import__("pmemtrack.objects.migration_context")
    __import__("pmemtrack.objects.quota")
    __import__("pmemtrack.objects.request_spec")
    __import__("pmemtrack.objects.resource")
