"""What the console's "Add provisioning provider" offers for Microsoft Entra ID: its two
credential types, the Entra fields each value is pasted into, Entra's next steps, when
Entra puts the application in quarantine (the overview warns before it does); and what
Entra's Test Connection sends, which the connection state names."""

from __future__ import annotations

from gateway.plugin import ConsoleIdp, FailureLimit
from identity_gateway_entra import oauth

# Microsoft Learn, "Application provisioning in quarantine status": Entra quarantines a job
# whose calls to the application mostly fail: at once for invalid credentials, and, from
# 5,000 failures on, when more than 40% of its provisioning events fail (or 40,000 fail).
# Entra counts until the job restarts; the gateway's activity record keeps a day, so the
# overview looks at the last 24 hours and warns from 30% (the rate approaching 40%), once
# 50 requests failed (a few failures during setup are no trend).
QUARANTINE = FailureLimit(
    title="Entra may put this application in quarantine",
    says="Entra quarantines an application when most of its provisioning calls fail: more "
         "than 40% of them (counted from 5,000 failures), or at once when its credential is "
         "refused. In quarantine its sync cycles slow down to one a day, and after four "
         "weeks provisioning stops. Find the cause under Refused requests and in the sync "
         "log's errors, fix it, then restart provisioning in Entra (the application's "
         "Provisioning page, Restart provisioning).",
    warn_ratio=0.3, warn_failures=50, window=1440, on_refused_credential=True)


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
        ],
        failure_limit=QUARANTINE)]


# Test Connection looks up a user by its matching attribute (userName unless the admin chose
# another, such as emails[type eq "work"].value) with a value that does not exist;
# provisioning asks the same before it creates a user.
PROBES = [(r'^GET /Users\?filter=userName eq "',
           "A lookup of a user by userName: what Entra's Test Connection sends (and what it "
           "asks before creating a user)"),
          (r'^GET /Users\?filter=[A-Za-z0-9:._]+(\[[^\]]*\]\.[A-Za-z]+)? eq "',
           "A lookup of a user by its matching attribute: what Entra's Test Connection sends "
           "(and what it asks before creating a user)")]
