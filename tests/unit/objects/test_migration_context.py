"""MigrationContext blobs as Nova writes and reads them (nova 34,
nova/objects/migration_context.py, version 1.2)."""

import json

import pytest

from pmemtrack import exception
from pmemtrack.objects import base
from pmemtrack.objects import instance_extra
from pmemtrack.objects import migration_context as mc_obj

UUID = "6f1c52be-1c55-4d0b-9a5e-0d55b2a9c0de"
NOVA_NULLS = {name: None for name in mc_obj.NOVA_FIELDS}
# What Nova keeps in a move's NUMA and PCI fields: nested object primitives.
NUMA = {
    "nova_object.name": "InstanceNUMATopology",
    "nova_object.namespace": "nova",
    "nova_object.version": "1.3",
    "nova_object.data": {"cells": [], "emulator_threads_policy": None},
}
PCI_REQUESTS = {
    "nova_object.name": "InstancePCIRequests",
    "nova_object.namespace": "nova",
    "nova_object.version": "1.1",
    "nova_object.data": {"instance_uuid": UUID, "requests": []},
}


def _data(blob):
    return json.loads(blob)["nova_object.data"]


def test_a_new_context_carries_novas_fields_as_explicit_nulls():
    blob = base.to_json(mc_obj.new(UUID, 7, None, None))
    data = _data(blob)
    assert {name: data[name] for name in mc_obj.NOVA_FIELDS} == NOVA_NULLS
    assert json.loads(blob)["nova_object.version"] == "1.2"


def test_novas_fields_in_a_nova_blob_survive_a_rewrite():
    written_by_nova = json.dumps(
        {
            "nova_object.name": "MigrationContext",
            "nova_object.namespace": "nova",
            "nova_object.version": "1.2",
            "nova_object.data": {
                "instance_uuid": UUID,
                "migration_id": 3,
                **NOVA_NULLS,
                "new_numa_topology": NUMA,
                "old_numa_topology": NUMA,
                "new_pci_requests": PCI_REQUESTS,
                "old_resources": None,
                "new_resources": None,
            },
        }
    )
    move = instance_extra.decode(UUID, "migration_context", written_by_nova)

    rewritten = _data(base.to_json(move))

    original = _data(written_by_nova)
    for name in mc_obj.NOVA_FIELDS:
        assert rewritten[name] == original[name], name


def test_a_nova_field_that_is_not_an_object_is_a_corrupted_blob():
    blob = base.to_json(mc_obj.new(UUID, 7, None, None))
    broken = json.loads(blob)
    broken["nova_object.data"]["new_pci_devices"] = "not an object"
    with pytest.raises(exception.CorruptedBlob, match="new_pci_devices"):
        instance_extra.decode(UUID, "migration_context", json.dumps(broken))
