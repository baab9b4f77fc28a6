import pytest

from gateway.scim.path import path_values
from gateway.scim.schema import USER_TYPE
from identity_gateway_okta.paths import scim_path


@pytest.mark.parametrize("okta,scim", [
    ("addresses.^[primary==true].country", "addresses[primary eq true].country"),
    ("addresses.^[primary==true].locality", "addresses[primary eq true].locality"),
    ("emails.^[type=='work'].value", 'emails[type eq "work"].value'),
    ('emails.^[type=="work"]', 'emails[type eq "work"]'),
    ("phoneNumbers.^[ type == 'mobile' ].value", 'phoneNumbers[type eq "mobile"].value'),
    ("title", "title"),
    ("usertype", "usertype"),
    ('addresses[type eq "work"].country', 'addresses[type eq "work"].country'),
])
def test_okta_notation_becomes_a_scim_path(okta, scim):
    assert scim_path(okta) == scim


@pytest.mark.parametrize("bad", [
    "addresses.^[primary=true].country", "addresses.^[primary==true", "addresses.^[].x",
    "addresses.^[type==work].country",
])
def test_malformed_selectors_are_refused(bad):
    with pytest.raises(ValueError):
        scim_path(bad)


def test_the_path_selects_the_primary_address():
    user = {"userName": "a", "addresses": [{"country": "NO", "type": "work"},
                                           {"country": "US", "primary": True}]}
    path = scim_path("addresses.^[primary==true].country")
    assert path_values(user, path, USER_TYPE) == ["US"]
    assert path_values(user, scim_path("addresses.^[type=='work'].country"), USER_TYPE) == ["NO"]
