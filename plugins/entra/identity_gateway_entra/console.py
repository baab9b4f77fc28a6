"""What the console's "Add provisioning provider" offers for Microsoft Entra ID: its two
credential types, the Entra fields each value is pasted into, and Entra's next steps; and
what Entra's Test Connection sends, which the connection state names."""

from __future__ import annotations

from gateway.plugin import ConsoleIdp
from identity_gateway_entra import oauth


def console_items(name: str) -> list:
    return [ConsoleIdp(
        plugin=name, title="Microsoft Entra ID",
        kinds=[("bearer", "OAuth token (Secret Token)"),
               (oauth.CLIENT_KIND, "OAuth client credentials")],
        fields={"SCIM base URL": "Tenant URL", "Bearer token": "Secret Token",
                "Client ID": "Client Identifier", "Client secret": "Client Secret"},
        steps=[
            "In the Microsoft Entra admin center: Enterprise applications > your application "
            "> Provisioning > Get started; set Provisioning Mode to Automatic.",
            "Under Admin Credentials, paste the Tenant URL and the Secret Token shown above "
            "(for OAuth client credentials: Client Identifier, Client Secret and Token "
            "Endpoint {base_url}/oauth/token).",
            "Click Test Connection: this page's connection check shows Entra's request when "
            "it arrives.",
            "Enter a notification email for failures, Save, review the mappings, then turn "
            "Provisioning Status On.",
        ])]


# Test Connection looks up a user by its matching attribute (userName unless the admin chose
# another, such as emails[type eq "work"].value) with a value that does not exist;
# provisioning asks the same before it creates a user.
PROBES = [(r'^GET /Users\?filter=userName eq "',
           "A lookup of a user by userName: what Entra's Test Connection sends (and what it "
           "asks before creating a user)"),
          (r'^GET /Users\?filter=[A-Za-z0-9:._]+(\[[^\]]*\]\.[A-Za-z]+)? eq "',
           "A lookup of a user by its matching attribute: what Entra's Test Connection sends "
           "(and what it asks before creating a user)")]
