"""Object versions: changing an object's fields without bumping its version fails.

When this test fails, bump VERSION of the object you changed (and, for the
Nova-compatible objects, make sure Nova can still read what is written), then
update the fingerprint below.
"""

from oslo_versionedobjects import fixture

from pmemtrack.objects import base

EXPECTED = {
    "ComputeNode": "1.0-e913509c1b39a0b2317cb2a3acaed3cb",
    "ComputeNodeList": "1.0-15ecf022a68ddbb8c2a6739cfc9f8f5e",
    "Flavor": "1.0-b048de4a0d1cd974ccd645c4773aae87",
    "FlavorList": "1.0-15ecf022a68ddbb8c2a6739cfc9f8f5e",
    "HostResource": "1.0-ee25a79dd942e072b7f46d74a9c4cd84",
    "HostResourceList": "1.0-15ecf022a68ddbb8c2a6739cfc9f8f5e",
    "Instance": "1.0-5da94cf8c82ea75a8015bdea16e02307",
    "InstanceList": "1.0-15ecf022a68ddbb8c2a6739cfc9f8f5e",
    "LibvirtVPMEMDevice": "1.0-17ffaf47585199eeb9a2b83d6bde069f",
    "Migration": "1.1-03d636f3b7fb289a32a60f98eeb4d3c7",
    # Stays 1.2, Nova's version: its NUMA/PCI fields are carried as primitives.
    "MigrationContext": "1.2-e447bd90522a53168d5db05554f68691",
    "MigrationList": "1.0-15ecf022a68ddbb8c2a6739cfc9f8f5e",
    "QuotaLimit": "1.0-d47f18014ff5511d3d009f3842f66432",
    "QuotaLimitList": "1.0-15ecf022a68ddbb8c2a6739cfc9f8f5e",
    "RequestSpec": "1.0-9dc29240ab38946d1a6258113010e46c",
    "Resource": "1.0-d8a2abbb380da583b995fd118f6a8953",
    "ResourceList": "1.0-15ecf022a68ddbb8c2a6739cfc9f8f5e",
    "ResourceMetadata": "1.0-77509ea1ea0dd750d5864b9bd87d3f9d",
}


def _registered():
    return {
        name: classes
        for name, classes in base.PmemtrackObjectRegistry.obj_classes().items()
        if classes[0].__module__.startswith("pmemtrack.")
    }


def test_versions_match_fingerprints():
    checker = fixture.ObjectVersionChecker(_registered())
    expected, actual = checker.test_hashes(EXPECTED)
    assert expected == actual, (
        "Object fields changed: bump VERSION and update EXPECTED in this file."
    )


def test_a_field_change_without_a_version_bump_is_caught(monkeypatch):
    from pmemtrack.objects import fields
    from pmemtrack.objects import flavor

    monkeypatch.setitem(flavor.Flavor.fields, "disk_gb", fields.IntegerField())
    checker = fixture.ObjectVersionChecker(_registered())
    expected, actual = checker.test_hashes(EXPECTED)
    assert expected["Flavor"] != actual["Flavor"]
