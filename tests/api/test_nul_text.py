"""Text the stores cannot both keep is refused up front, the same way on both backends."""

import pytest

from gateway.testing import scim_user as user_body

pytestmark = pytest.mark.anyio


async def test_a_nul_character_is_refused_and_nothing_is_written(gateway, idp):
    for body in (user_body("nul@example.com", title="a\u0000b"),
                 user_body("nul@example.com", **{"urn:x\u0000": {"a": 1}})):
        r = await gateway.scim(idp, "POST", "/Users", body)
        assert r.status_code == 400, r.text
        assert r.json()["scimType"] == "invalidValue" and "NUL" in r.json()["detail"]
    listed = await gateway.scim(idp, "GET", "/Users")
    assert listed.json()["totalResults"] == 0
    # An escaped backslash followed by u0000 is ordinary text.
    r = await gateway.scim(idp, "POST", "/Users", user_body("nul@example.com", title="a\\u0000b"))
    assert r.status_code == 201 and r.json()["title"] == "a\\u0000b"
