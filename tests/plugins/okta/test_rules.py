"""Okta's rule: userName is a syntactically valid email address and the primary email is the
same address. Syntax only: an org whose users live under a special-use or private domain
(Okta's own SCIM reference uses test.user@okta.local) must be able to provision."""

from __future__ import annotations

import pytest

from gateway.plugin import ScimError
from identity_gateway_okta import rules


def user(name: str) -> dict:
    return {"userName": name, "emails": [{"value": name, "type": "work", "primary": True}]}


# One per special-use or reserved suffix (RFC 6761, RFC 6762, RFC 7686, RFC 8375, RFC 2606,
# ICANN's .internal), and the private names many organisations use.
@pytest.mark.parametrize("name", [
    "test.user@okta.local",          # RFC 6762 multicast DNS
    "test.user@okta.internal",       # ICANN private-use TLD
    "test.user@okta.test",           # RFC 6761
    "test.user@okta.localhost",      # RFC 6761
    "test.user@okta.invalid",        # RFC 6761
    "test.user@okta.example",        # RFC 2606
    "test.user@example.com",         # RFC 2606
    "test.user@okta.onion",          # RFC 7686
    "test.user@router.home.arpa",    # RFC 8375
    "test.user@okta.lan",
    "test.user@okta.corp",
    "test.user@intranet",            # a single-label domain is still valid syntax
    "test.user@localhost",
])
def test_any_syntactically_valid_address_is_accepted(name):
    rules.check_user(user(name))


@pytest.mark.parametrize("name", [
    "test.user", "test.user@", "@okta.local", "test user@okta.local", "test.user@okta..local",
    "test.user@-okta.local", "test.user@okta.local.", "a@b@okta.local", "test.user@okta_x.local",
    "", 42,
])
def test_invalid_syntax_is_refused(name):
    with pytest.raises(ScimError) as refused:
        rules.check_user_name(name)
    assert refused.value.status == 400 and refused.value.scim_type == "invalidValue"
    assert refused.value.detail.startswith("userName: must be")


def test_no_domain_is_looked_up(monkeypatch):
    import dns.resolver

    def resolve(*args, **kwargs):
        raise AssertionError("no DNS lookup may be made")

    monkeypatch.setattr(dns.resolver, "resolve", resolve)
    monkeypatch.setattr(dns.resolver.Resolver, "resolve", resolve)
    rules.check_user(user("someone@no-such-domain-for-sure.example"))


def test_the_primary_email_must_still_be_the_user_name():
    body = user("test.user@okta.local")
    body["emails"][0]["value"] = "other@okta.local"
    with pytest.raises(ScimError) as refused:
        rules.check_user(body)
    assert refused.value.detail.startswith("emails[primary eq true].value:")
