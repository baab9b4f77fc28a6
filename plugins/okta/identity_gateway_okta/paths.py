"""Okta's attribute notation -> SCIM paths.

Okta's Profile Editor names a SCIM attribute inside a multi-valued one with a selector:
``addresses.^[primary==true].country``. SCIM writes the same thing as a value filter:
``addresses[primary eq true].country``. ``scim_path`` turns the first into the second and
leaves plain SCIM paths as they are, so the admin may paste either into the gateway's
profile mapping.
"""

from __future__ import annotations

import re

_SELECTOR = re.compile(
    r"^(?P<attr>[A-Za-z0-9_:.$-]+?)\.\^\[\s*(?P<sub>[A-Za-z0-9_$]+)\s*==\s*(?P<value>[^\]]+?)"
    r"\s*\](?:\.(?P<rest>[A-Za-z0-9_$]+))?$"
)
_BARE = re.compile(r"^(true|false|null|-?\d+(\.\d+)?)$")


def scim_path(expr: str) -> str:
    """``addresses.^[primary==true].country`` -> ``addresses[primary eq true].country``.

    Strings in the selector may be quoted either way (``emails.^[type=='work'].value``).
    A path without a selector is returned unchanged; a malformed selector is a ValueError.
    """
    text = expr.strip()
    if ".^[" not in text:
        return text
    found = _SELECTOR.match(text)
    if found is None:
        raise ValueError(f"'{expr}' is not of the form attribute.^[sub==value].sub")
    value = found["value"].strip()
    if value[:1] in ("'", '"') and value[-1:] == value[:1] and len(value) >= 2:
        inner = value[1:-1].replace("\\", "\\\\").replace('"', '\\"')
        value = f'"{inner}"'
    elif not _BARE.match(value):
        raise ValueError(f"'{expr}': the selector's value must be true, false, a number or "
                         "a quoted string")
    path = f"{found['attr']}[{found['sub']} eq {value}]"
    return f"{path}.{found['rest']}" if found["rest"] else path
