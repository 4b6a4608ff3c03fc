"""The resources blob: Nova's exact format read as is, and written the same way."""

import json

import pytest

from pmemtrack import exception
from pmemtrack import objects
from pmemtrack.objects import base

PROVIDER = "3f1f2b6c-7f0e-4f43-9d7a-0a4c8a9a1b11"
INSTANCE = "c0ffee00-1111-4222-8333-444455556666"

# instance_extra.resources as Nova's vPMEM writes it (Nova 34's object names and versions).
NOVA_BLOB = json.dumps(
    {
        "nova_object.name": "ResourceList",
        "nova_object.namespace": "nova",
        "nova_object.version": "1.0",
        "nova_object.data": {
            "objects": [
                {
                    "nova_object.name": "Resource",
                    "nova_object.namespace": "nova",
                    "nova_object.version": "1.0",
                    "nova_object.data": {
                        "provider_uuid": PROVIDER,
                        "resource_class": "CUSTOM_PMEM_NAMESPACE_4GB",
                        "identifier": "ns_0",
                        "metadata": {
                            "nova_object.name": "LibvirtVPMEMDevice",
                            "nova_object.namespace": "nova",
                            "nova_object.version": "1.0",
                            "nova_object.data": {
                                "label": "4GB",
                                "name": "ns_0",
                                "size": 4292870144,
                                "devpath": "/dev/dax0.0",
                                "align": 2097152,
                            },
                        },
                    },
                }
            ]
        },
    }
)


def _device(name="ns_0", devpath="/dev/dax0.0"):
    return objects.LibvirtVPMEMDevice(
        label="4GB", name=name, size=4292870144, devpath=devpath, align=2097152
    )


def _resource(name="ns_0", devpath="/dev/dax0.0"):
    return objects.Resource(
        provider_uuid=PROVIDER,
        resource_class="CUSTOM_PMEM_NAMESPACE_4GB",
        identifier=name,
        metadata=_device(name, devpath),
    )


def test_reads_a_blob_written_by_nova():
    resources = base.from_json(objects.ResourceList, NOVA_BLOB, INSTANCE, "resources")
    [resource] = resources.objects
    assert resource.provider_uuid == PROVIDER
    assert resource.resource_class == "CUSTOM_PMEM_NAMESPACE_4GB"
    assert resource.identifier == "ns_0"
    assert isinstance(resource.metadata, objects.LibvirtVPMEMDevice)
    assert resource.metadata.size == 4292870144
    assert resource.metadata.devpath == "/dev/dax0.0"
    assert resource.metadata.align == 2097152
    assert resource.metadata.label == "4GB"
    assert resources.keys == {(PROVIDER, "ns_0")}


def _strip_changes(primitive):
    if isinstance(primitive, dict):
        return {
            key: _strip_changes(value)
            for key, value in primitive.items()
            if key != "nova_object.changes"
        }
    if isinstance(primitive, list):
        return [_strip_changes(item) for item in primitive]
    return primitive


def test_writes_the_blob_nova_writes():
    written = json.loads(base.to_json(objects.ResourceList(objects=[_resource()])))
    assert _strip_changes(written) == json.loads(NOVA_BLOB)


def test_round_trip_keeps_every_field():
    original = objects.ResourceList(
        objects=[_resource(), _resource("ns_1", "/dev/dax0.1")]
    )
    loaded = base.from_json(
        objects.ResourceList, base.to_json(original), INSTANCE, "resources"
    )
    assert loaded.objects == original.objects


def test_identity_is_host_and_name_not_label():
    relabelled = _resource()
    relabelled.metadata.label = "MEDIUM"
    assert relabelled.key == _resource().key
    assert _resource().key != _resource("ns_1").key


@pytest.mark.parametrize(
    "blob, reason",
    [
        ("{not json", "not JSON"),
        ('{"nova_object.name": "ResourceList"}', "not a versioned object primitive"),
        ("[]", "not a versioned object primitive"),
        (
            NOVA_BLOB.replace('"version": "1.0"', '"version": "9.0"', 1).replace(
                '"nova_object.version": "1.0"', '"nova_object.version": "9.0"', 1
            ),
            "not a versioned object primitive",
        ),
    ],
)
def test_corrupted_blob_names_instance_and_column(blob, reason):
    with pytest.raises(exception.CorruptedBlob) as err:
        base.from_json(objects.ResourceList, blob, INSTANCE, "instance_extra.resources")
    assert INSTANCE in str(err.value)
    assert "instance_extra.resources" in str(err.value)
    assert reason in str(err.value)


def test_blob_of_the_wrong_kind_is_refused():
    device_blob = base.to_json(_device())
    with pytest.raises(exception.CorruptedBlob, match="holds a LibvirtVPMEMDevice"):
        base.from_json(objects.ResourceList, device_blob, INSTANCE, "resources")


def test_invalid_resource_class_is_refused():
    with pytest.raises(ValueError, match="not a valid custom resource class"):
        objects.Resource(resource_class="pmem")
