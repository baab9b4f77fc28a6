"""Microsoft's gallery schema test (Schema_Discoverability_Test, see schema_discoverability.py)
against the gateway's /Schemas: every attribute Entra's mappings write to must be listed, or
the app cannot be published in the Entra gallery."""

from __future__ import annotations

import pytest
from schema_discoverability import CORE_GROUP, CORE_USER, schema_discoverability

from gateway.testing import SCIM, running

pytestmark = pytest.mark.anyio

ENT = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
BUNDLED = ["entra", "okta", "legal_hold", "org_mapping"]

# Entra's default mappings (docs/idp/entra.md, section 3): the targets every tenant starts with.
DEFAULT_USER_TARGETS = [
    "userName", "active", "title", 'emails[type eq "work"].value', "name.givenName",
    "name.familyName", 'addresses[type eq "work"].locality', 'addresses[type eq "work"].region',
    'addresses[type eq "work"].country', "externalId", "userType", f"{ENT}:department",
    f"{ENT}:division", f"{ENT}:manager",
]
DEFAULT_GROUP_TARGETS = ["displayName", "externalId", "members"]
# The further targets of the attribute table in Microsoft's tutorial ("Design your user and
# group schema", use-scim-to-provision-users-and-groups.md), spelled as it spells them.
TUTORIAL_USER_TARGETS = [
    "displayName", f"{ENT}:employeeNumber", 'phoneNumbers[type eq "fax"].value',
    'phoneNumbers[type eq "mobile"].value', 'phoneNumbers[type eq "work"].value',
    'addresses[type eq "work"].postalCode', 'emails[type eq "other"].Value',
    'addresses[type eq "other"].Formatted', 'addresses[type eq "work"].streetAddress',
]


def targets(names: list[str]) -> list[dict]:
    """The job's target attributes as Initialization_Workflow.json passes them on."""
    return [{"name": name} for name in names]


async def schemas(enabled: list[str], plugin: str | None, database: str) -> tuple[int, dict]:
    async with running(database, enabled=enabled) as gw:
        provider = await gw.provider("Entra ID", plugin=plugin)
        r = await gw.scim(provider, "GET", "/Schemas", headers={"Accept": SCIM})
        return r.status_code, r.json()


@pytest.mark.parametrize("enabled,plugin", [
    (BUNDLED, "entra"), (BUNDLED, None), (["entra"], "entra"), ([], None),
    (["okta"], None), (["legal_hold"], None), (["org_mapping"], None),
])
async def test_every_mapped_target_is_discoverable(database, enabled, plugin):
    status, body = await schemas(enabled, plugin, database)
    result = schema_discoverability(
        status, body, targets(DEFAULT_USER_TARGETS + TUTORIAL_USER_TARGETS),
        targets(DEFAULT_GROUP_TARGETS))
    assert (result["missingUserAttrs"], result["missingGroupAttrs"]) == ([], [])
    assert result["overallResult"] == "PASSED"


async def test_the_comparison_reports_what_is_missing(database):
    # Without externalId in the core schemas (as /Schemas listed them before), the suite fails
    # on the default mappings, for users and for groups alike.
    status, body = await schemas(BUNDLED, "entra", database)
    for schema in body["Resources"]:
        if schema["id"] in (CORE_USER, CORE_GROUP):
            schema["attributes"] = [a for a in schema["attributes"] if a["name"] != "externalId"]
    result = schema_discoverability(status, body, targets(DEFAULT_USER_TARGETS),
                                    targets(DEFAULT_GROUP_TARGETS))
    assert result["overallResult"] == "FAILED"
    assert (result["missingUserAttrs"], result["missingGroupAttrs"]) == \
        (["externalId"], ["externalId"])
    assert 'emails[type eq "work"].value' in result["flattenedUserSchemaAttrs"]
    assert f"{ENT}:manager" in result["flattenedUserSchemaAttrs"]
