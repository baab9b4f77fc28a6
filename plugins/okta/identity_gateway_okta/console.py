"""What the console's "Add provisioning provider" offers for Okta: API credentials (HTTP
Basic, the only kind Okta sends), the Okta fields each value goes into, Okta's next steps;
and what Okta's Test API Credentials sends, which the connection state names."""

from __future__ import annotations

from gateway.plugin import ConsoleIdp


def console_items(name: str) -> list:
    return [ConsoleIdp(
        plugin=name, title="Okta",
        kinds=[("basic", "API credentials")],
        fields={"SCIM base URL": "Base URL", "Username": "Username", "Password": "Password"},
        steps=[
            "In the Okta Admin Console: Applications > your application > Provisioning > "
            "Configure API Integration; tick Enable API integration.",
            "Paste the Base URL, Username and Password shown above.",
            "Click Test API Credentials: this page's connection check shows Okta's request "
            "when it arrives. Then Save.",
            "Under To App, enable Create Users, Update User Attributes and Deactivate Users; "
            "assign people and use Push Groups for the groups to map.",
        ])]


# Test API Credentials reads the first page of users, two at a time.
PROBES = [(r"^GET /Users\?(?=.*\bstartIndex=1\b)(?=.*\bcount=2\b)",
           "Okta's Test API Credentials: the first page of users")]
