"""The rules an Okta provider's users must follow (docs/idp/okta.md):
userName is a syntactically valid email address, the primary email is that same address, and
every country is an ISO 3166-1 alpha-2 code. Each refusal names the attribute and the rule."""

from __future__ import annotations

import email_validator
import pycountry
from email_validator import EmailNotValidError, validate_email

from gateway.plugin import ScimError


def refuse(attribute: str, rule: str) -> ScimError:
    return ScimError(400, f"{attribute}: {rule}", "invalidValue")


def check_user(user: dict) -> None:
    check_user_name(user.get("userName"))
    check_primary_email(user.get("userName"), user.get("emails") or [])
    check_countries(user.get("addresses") or [])


def check_user_name(user_name: object) -> None:
    if not isinstance(user_name, str):
        raise refuse("userName", "must be an email address")
    try:
        check_email_syntax(user_name)
    except EmailNotValidError as exc:
        raise refuse("userName",
                     f"must be a valid email address ('{user_name}': {exc})") from None


def check_email_syntax(address: str) -> None:
    """Raise EmailNotValidError unless the address is syntactically valid. Syntax only: no
    DNS lookup (check_deliverability), no rule that the domain be reachable from the public
    Internet (globally_deliverable: a dot and a public TLD), no refusal of special-use names
    (Okta orgs provision users under okta.local, corp.internal, *.test)."""
    local, at, domain = address.rpartition("@")
    validate_email(f"{local}{at}{_neutral(domain)}" if at else address,
                   check_deliverability=False, globally_deliverable=False,
                   test_environment=True)


def _neutral(domain: str) -> str:
    """The domain with a special-use suffix (local, localhost, invalid, onion, arpa, test)
    replaced by as many x's: email-validator refuses those names whatever its switches say
    (test_environment frees only .test), and a special-use name is an ordinary label, so
    the replacement keeps every syntax and length verdict as it was."""
    lowered = domain.lower()
    for name in email_validator.SPECIAL_USE_DOMAIN_NAMES:
        if lowered == name or lowered.endswith("." + name):
            return domain[: len(domain) - len(name)] + "x" * len(name)
    return domain


def check_primary_email(user_name: object, emails: list) -> None:
    primary = next((e for e in emails if isinstance(e, dict) and e.get("primary") is True), None)
    if primary is None:
        return
    value = primary.get("value")
    # Compared without regard to case, like userName's own uniqueness.
    if not isinstance(value, str) or not isinstance(user_name, str) \
            or value.lower() != user_name.lower():
        raise refuse("emails[primary eq true].value",
                     f"the primary email ('{value}') must be identical to userName "
                     f"('{user_name}')")


def check_countries(addresses: list) -> None:
    for address in addresses:
        if not isinstance(address, dict) or "country" not in address:
            continue
        code = address["country"]
        label = "addresses[primary eq true].country" if address.get("primary") is True \
            else "addresses.country"
        if not is_alpha2(code):
            raise refuse(label, f"'{code}' is not an ISO 3166-1 alpha-2 country code "
                                "(two letters, such as US or DE)")


def is_alpha2(code: object) -> bool:
    if not isinstance(code, str) or len(code) != 2 or not code.isalpha():
        return False
    return pycountry.countries.get(alpha_2=code.upper()) is not None
