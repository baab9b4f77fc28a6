"""The admin API's bodies as msgspec Structs: request bodies are decoded and checked with
them (a body of the wrong shape answers 400 saying what is wrong), and both kinds are the
schemas of /admin/v1/openapi.json.

Response Structs describe what the handlers answer; they leave extra fields open, because
plugins add fields to users (``user_view``) and sync-log entries may grow columns.
"""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from msgspec import UNSET, Meta, UnsetType

from gateway.params import INT64_MAX

Duration = Annotated[str | int, Meta(description="15m, 30s, 2h, 1d, or seconds")]
Stamp = Annotated[str, Meta(description="RFC 3339, UTC, microseconds")]
Undeclared = Annotated[str, Meta(description="keep (default): attributes the provider has not "
                                             "declared are stored as sent; refuse: answered "
                                             "400")]


class Strict(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """A request body: a field it does not know is refused, not ignored."""


# Requests ------------------------------------------------------------------------------------

UNIQUE_GROUP_NAMES = ("a group may not take a name another group of the provider has, "
                      "ignoring case (default: off, unless the provider's plugin turns it on)")


class ProviderCreate(Strict):
    name: Annotated[str, Meta(description="1-64 letters, digits, spaces, . _ or -")]
    auth: Annotated[str, Meta(description="credential kind: bearer, basic, or a plugin's "
                                          "(oauth)")] = "bearer"
    plugin: str | None = None
    settings: dict[str, Any] = {}
    deactivation_delay: Duration | UnsetType = UNSET
    block_during_delay: Annotated[bool, Meta(description="block a deactivated user at once, "
                                                         "during the delay")] | UnsetType = UNSET
    undeclared_attributes: Undeclared | UnsetType = UNSET
    unique_group_names: Annotated[bool, Meta(description=UNIQUE_GROUP_NAMES)] | UnsetType = UNSET


class ProviderChange(Strict):
    name: str | UnsetType = UNSET
    plugin: str | None | UnsetType = UNSET
    settings: dict[str, Any] | UnsetType = UNSET
    deactivation_delay: Duration | UnsetType = UNSET
    block_during_delay: bool | UnsetType = UNSET
    undeclared_attributes: Undeclared | UnsetType = UNSET
    unique_group_names: Annotated[bool, Meta(description=UNIQUE_GROUP_NAMES)] | UnsetType = UNSET


class SubAttribute(Strict):
    name: str
    type: Annotated[str, Meta(description="string, boolean, integer, decimal, dateTime, "
                                          "reference or binary")] = "string"
    multi_valued: bool = False
    case_exact: bool = False


class CustomAttribute(Strict):
    """A provider's custom attribute, as declared."""

    schema: Annotated[str, Meta(description="the extension's URN, e.g. urn:ietf:params:scim:"
                                            "schemas:extension:CustomExtensionName:2.0:User")]
    name: Annotated[str, Meta(description="the attribute's name (RFC 7643 ATTRNAME)")]
    resource_type: Annotated[str, Meta(description="User or Group")] = "User"
    type: Annotated[str, Meta(description="string, boolean, integer, decimal, dateTime, "
                                          "reference, binary or complex")] = "string"
    multi_valued: bool = False
    case_exact: bool = False
    description: str = ""
    sub_attributes: Annotated[list[SubAttribute], Meta(
        description="a complex attribute's sub-attributes")] = []


class CustomAttributeChange(Strict):
    type: str | UnsetType = UNSET
    multi_valued: bool | UnsetType = UNSET
    case_exact: bool | UnsetType = UNSET
    description: str | UnsetType = UNSET
    sub_attributes: list[SubAttribute] | UnsetType = UNSET


class DeclareSeen(Strict):
    type: Annotated[str | None, Meta(description="the type to declare it with; left out, the "
                                                 "one its values suggest")] = None


class WebhookCreate(Strict):
    url: Annotated[str, Meta(description="absolute http(s) URL, at most 2048 characters")]
    secret: Annotated[str | None, Meta(description="the HMAC key (16-512 characters); "
                                                   "left out, one is generated")] = None
    events: Annotated[list[str] | None, Meta(description='event types, or ["*"]')] = None


Seq = Annotated[int, Meta(ge=0, le=INT64_MAX)]


class Redeliver(Strict):
    seq: Annotated[list[Seq] | None, Meta(description="the dead letters to send again; "
                                                      "left out, all of them")] = None


# Query parameters (each field is one) --------------------------------------------------------

Limit = Annotated[int, Meta(description="page size (clamped to 1..1000)")]


class PageQuery(msgspec.Struct, kw_only=True):
    cursor: str | None = None
    limit: Limit = 100


Flag = Annotated[str | None, Meta(description="true or false (also 1/0, yes/no)")]


class UserQuery(PageQuery, kw_only=True):
    total: Annotated[Flag, Meta(description="true: count every match (`total`)")] = None
    provider: Annotated[str | None, Meta(description="a provider id, or 'local'")] = None
    state: Annotated[str | None, Meta(description="active, pending_deactivation, "
                                                  "deactivation_held, deactivated or "
                                                  "blocked")] = None
    blocked: Annotated[Flag, Meta(description="true: only blocked users (an admin's block, "
                                              "a policy's, or during a deactivation)")] = None
    q: Annotated[str | None, Meta(description="text in userName, name or email")] = None


OUTCOME = ("success, error or unchanged (a PUT or PATCH that changed nothing), or several "
           "separated by commas: success,error leaves out the unchanged ones")
ACTOR = ("who made the change: an admin's name (console or API), a provider's name or id "
         "(its IdP's requests), a plugin's name, or as stored (console:alice)")


class SyncLogQuery(PageQuery, kw_only=True):
    total: Annotated[Flag, Meta(description="true: count every match (`total`)")] = None
    provider: str | None = None
    user: str | None = None
    who: Annotated[str | None, Meta(description="a user's userName or email address")] = None
    group: Annotated[str | None, Meta(description="a group's displayName")] = None
    actor: Annotated[str | None, Meta(description=ACTOR)] = None
    batch: Annotated[str | None, Meta(description="one batch's entries")] = None
    operation: str | None = None
    outcome: Annotated[str | None, Meta(description=OUTCOME)] = None
    since: Annotated[str | None, Meta(description="RFC 3339 time or date, inclusive")] = None
    until: Annotated[str | None, Meta(description="RFC 3339 time or date, exclusive")] = None


class ExportQuery(msgspec.Struct, kw_only=True):
    format: Annotated[str, Meta(description="jsonl or csv")] = "jsonl"
    provider: str | None = None
    user: str | None = None
    who: Annotated[str | None, Meta(description="a user's userName or email address")] = None
    group: Annotated[str | None, Meta(description="a group's displayName")] = None
    actor: Annotated[str | None, Meta(description=ACTOR)] = None
    batch: Annotated[str | None, Meta(description="one batch's entries")] = None
    operation: str | None = None
    outcome: Annotated[str | None, Meta(description=OUTCOME)] = None
    since: str | None = None
    until: str | None = None


class FeedQuery(msgspec.Struct, kw_only=True):
    after: Annotated[int, Meta(description="the last seq the consumer has")] = 0
    limit: Limit = 100


class FailuresQuery(msgspec.Struct, kw_only=True):
    since: Annotated[str, Meta(description="how far back, a duration such as 24h")] = "24h"
    limit: Annotated[int, Meta(ge=1, le=10_000)] = 1000


class GuardChange(Strict):
    enabled: bool | UnsetType = UNSET
    threshold: Annotated[dict[str, int | float], Meta(
        description='{"users": n, "percent": p}: more than both within the window trips it'
    )] | UnsetType = UNSET
    window: Duration | UnsetType = UNSET


class ActivityQuery(msgspec.Struct, kw_only=True):
    minutes: Annotated[int, Meta(description="minutes of the series (clamped to 1..1440)")] = \
        1440


# Responses -----------------------------------------------------------------------------------

class Error(msgspec.Struct, kw_only=True):
    """Every refusal of the admin API."""

    detail: str
    status: int
    scimType: str | UnsetType = UNSET  # noqa: N815 (the SCIM name, for a SCIM-layer refusal)


class Provider(msgspec.Struct, kw_only=True):
    id: str
    name: str
    plugin: str | None
    auth: str
    deactivation_delay: Duration
    undeclared_attributes: Undeclared
    unique_group_names: Annotated[bool, Meta(description=UNIQUE_GROUP_NAMES)]
    settings: dict[str, Any]
    base_url: str
    created_at: Stamp


class LastRequest(msgspec.Struct, kw_only=True):
    at: Stamp
    request: Annotated[str | None, Meta(description='e.g. GET /Users?filter=userName eq "ad…"')]
    status: int | None


class LastError(msgspec.Struct, kw_only=True):
    at: Stamp
    status: int | None
    detail: str | None


class NamedGroup(msgspec.Struct, kw_only=True):
    id: str
    displayName: str | None  # noqa: N815 (the SCIM attribute's name)


class DuplicateGroupName(msgspec.Struct, kw_only=True):
    name: Annotated[str | None, Meta(description="the name, as its oldest group has it")]
    count: Annotated[int, Meta(description="how many of the provider's groups have it")]
    groups: Annotated[list[NamedGroup], Meta(description="those groups, oldest first")]


class ConnectionRequest(msgspec.Struct, kw_only=True):
    at: Stamp
    request: Annotated[str | None, Meta(description='e.g. GET /Users?filter=userName eq "ad…"')]
    method: str | None
    route: str | None
    status: int | None
    described: Annotated[str, Meta(description="the request in words: the IdP's own test "
                                               "when its plugin names it, else what it "
                                               "asked")]


class ConnectionRefused(msgspec.Struct, kw_only=True):
    count: Annotated[int, Meta(description="requests refused since the credential was "
                                           "issued")]
    reasons: Annotated[dict[str, int], Meta(description="how many per reason: no_credential, "
                                                        "wrong_scheme, unknown_credential, "
                                                        "expired_token, rate_limited, "
                                                        "token_rate_limited")]
    explained: Annotated[dict[str, str], Meta(description="each reason in words")]
    at: Annotated[str, Meta(description="the last one (a minute, or an RFC 3339 time)")]


class Connection(msgspec.Struct, kw_only=True):
    """Whether the provider's IdP has reached the gateway with its current credential."""

    provider_id: str
    state: Annotated[str, Meta(description="waiting: nothing has arrived since the "
                                           "credential was issued; refused: requests came "
                                           "with a credential that was refused; connected: "
                                           "a request authenticated")]
    since: Annotated[str, Meta(description="when the current credential was issued (the "
                                           "provider's creation or its last rotation)")]
    request: Annotated[ConnectionRequest | None, Meta(
        description="its last request since then (None: none)")]
    success_at: Stamp | None
    refused: ConnectionRefused | None
    summary: Annotated[str, Meta(description="the state in one sentence, as the CLI prints "
                                             "it")]


class ProviderDetails(Provider, kw_only=True):
    owned: Annotated[dict[str, int], Meta(description="the users and groups it owns")]
    duplicate_group_names: Annotated[list[DuplicateGroupName], Meta(
        description="names more than one of its groups have, ignoring case (at most 100): "
                    "an IdP that finds groups by name fails to update them")]
    last_request: Annotated[LastRequest | None, Meta(
        description="the last SCIM request it sent (None: none yet)")]
    last_success_at: Stamp | None
    last_error: Annotated[LastError | None, Meta(
        description="its last request that failed (a 5xx, or a 4xx but a 404 on a read)")]
    requests_24h: int
    errors_24h: int
    connection: Connection


class ProviderWithCredentials(Provider, kw_only=True):
    credentials: Annotated[dict[str, str], Meta(
        description="the new secret and its labels, shown once (Bearer token; Username and "
                    "Password; Client ID and Client secret)")]


class FailureCount(msgspec.Struct, kw_only=True):
    minute: Stamp
    reason: Annotated[str, Meta(description="no_credential, wrong_scheme, unknown_credential, "
                                            "expired_token, rate_limited, token_rate_limited")]
    count: int
    provider_id: Annotated[str, Meta(description="'' the admin API, '-' an id that names no "
                                                 "provider")] | UnsetType = UNSET


class Failures(msgspec.Struct, kw_only=True):
    since: Stamp
    totals: dict[str, int]
    items: list[FailureCount]


class GuardTrip(msgspec.Struct, kw_only=True):
    tripped_at: Stamp | None
    deactivations_in_window: int | None
    active_users: int | None
    first_held: str | None
    last_held: str | None


class Guard(msgspec.Struct, kw_only=True):
    provider: str
    state: Annotated[str, Meta(description="off, armed or tripped")]
    held: int
    threshold: dict[str, int | float]
    window: str
    tripped_at: Stamp | None
    recent: int
    trips: int
    last_trip: GuardTrip | None


class GuardOutcome(msgspec.Struct, kw_only=True):
    released: int | UnsetType = UNSET
    discarded: int | UnsetType = UNSET
    guard: Guard


class Held(msgspec.Struct, kw_only=True):
    items: list[dict[str, Any]]
    next_cursor: str | None


class CustomAttributeView(CustomAttribute, kw_only=True):
    path: Annotated[str, Meta(description="URN:name, the attribute's path in filters and "
                                          "PATCH")]


class UndeclaredAttribute(msgspec.Struct, kw_only=True):
    path: str
    resource_type: str
    count: Annotated[int, Meta(description="the writes that carried it")]
    example: Annotated[Any, Meta(description="its latest value (a long one cut short)")]
    first_seen: Stamp
    last_seen: Stamp
    suggested: Annotated[CustomAttributeView, Meta(
        description="the declaration its values suggest: POST it to declare it")]


class CustomAttributes(msgspec.Struct, kw_only=True):
    provider: str
    undeclared_attributes: Undeclared
    declared: list[CustomAttributeView]
    undeclared: list[UndeclaredAttribute]


class ProviderPage(msgspec.Struct, kw_only=True):
    items: list[ProviderDetails]
    next_cursor: None


class PluginInfo(msgspec.Struct, kw_only=True):
    name: str
    version: str | None
    hooks: list[str]


class PluginPage(msgspec.Struct, kw_only=True):
    items: list[PluginInfo]
    next_cursor: None


class UserView(msgspec.Struct, kw_only=True):
    """The admin's view of a user; plugins add fields of their own."""

    id: str
    state: str
    deactivate_at: Stamp | None
    can_sign_in: bool
    cold_storage: bool
    source: Annotated[str, Meta(description="the provider id, or 'local'")]
    provider_state: Annotated[str | None, Meta(description="active, inactive, deleted; null "
                                                           "for a local user")]
    deleted_by_provider: bool
    profile: dict[str, Any]
    custom_attributes: Annotated[dict[str, dict[str, Any]], Meta(
        description="what the provider sent of its custom attributes (declared or not), by "
                    "schema URN")]
    created: Stamp
    last_modified: Stamp


class UserViewPage(msgspec.Struct, kw_only=True):
    items: list[UserView]
    next_cursor: str | None
    total: int | UnsetType = UNSET  # with ?total=true


class SyncLogEntry(msgspec.Struct, kw_only=True):
    seq: int
    subject: str | None  # the userName or displayName when the entry was written
    batch: str | None  # a Bulk request, a guard release or discard, a plugin's run
    at: Stamp
    provider: str | None
    actor: str
    request_id: str | None
    method: str | None
    path: str | None
    resource_type: str | None
    resource_id: str | None
    operation: str
    before: Any
    after: Any
    outcome: str
    status: int | None
    detail: str | None
    reason: str | None


class SyncLogPage(msgspec.Struct, kw_only=True):
    items: list[SyncLogEntry]
    next_cursor: str | None
    total: int | UnsetType = UNSET  # with ?total=true


class Event(msgspec.Struct, kw_only=True):
    seq: int
    type: str
    provider: str | None
    occurred_at: Stamp
    resource_type: str | None
    resource_id: str | None
    data: dict[str, Any]
    traceparent: str | None


class EventPage(msgspec.Struct, kw_only=True):
    items: list[Event]
    next_cursor: str


class Webhook(msgspec.Struct, kw_only=True):
    id: str
    url: str
    events: list[str]
    cursor: int
    created_at: Stamp
    pending: int
    dead_letters: int


class WebhookCreated(Webhook, kw_only=True):
    secret: Annotated[str | UnsetType, Meta(description="the generated secret, shown once")] = \
        UNSET


class WebhookPage(msgspec.Struct, kw_only=True):
    items: list[Webhook]
    next_cursor: None


class DeadLetter(msgspec.Struct, kw_only=True):
    seq: int
    attempts: int
    last_error: str | None
    last_attempt_at: Stamp | None
    event: Event


class DeadLetterPage(msgspec.Struct, kw_only=True):
    items: list[DeadLetter]
    next_cursor: str | None


class Redelivering(msgspec.Struct, kw_only=True):
    redelivering: int
    detail: str | UnsetType = UNSET


class Minute(msgspec.Struct, kw_only=True):
    minute: Annotated[str, Meta(description="the minute's start, e.g. 2026-01-01T09:30:00Z")]
    requests: int
    errors: int


class Activity(msgspec.Struct, kw_only=True):
    """A provider's last request, success and error, and its requests and errors per minute
    (an error: any 5xx, and any 4xx but a 404 on a read)."""

    provider_id: str
    last_request_at: Stamp | None
    last_request: Annotated[str | None, Meta(description='e.g. GET /Users?filter=userName '
                                                         'eq "ade…"')]
    last_method: str | None
    last_route: str | None
    last_status: int | None
    last_success_at: Stamp | None
    last_error_at: Stamp | None
    last_error_status: int | None
    last_error_detail: str | None
    requests_24h: int
    errors_24h: int
    series: list[Minute]
