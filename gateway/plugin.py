"""The public surface for plugins: every name a plugin may import, in one module.

A plugin imports from here and from nowhere else in the gateway (its tests may also use
``gateway.testing``). Names outside this module may change between releases; names here
keep their meaning, and docs/plugins.md documents each.
"""

from __future__ import annotations

from gateway.accounts.actions import ActionRefused
from gateway.accounts.credentials import (
    IssuedCredential,
    Principal,
    bearer_token,
    hash_secret,
    verify_secret,
)
from gateway.accounts.lifecycle import Decision
from gateway.accounts.users import UserColumn
from gateway.api.admin.endpoint import int_param, json_body, limit_param
from gateway.api.auth import auth_failed, limit_token_issue, limit_token_request
from gateway.api.http import JsonResponse, created, read_body, read_form, read_json
from gateway.api.openapi import Operation, documented
from gateway.clock import parse_duration
from gateway.console.extension import (
    ConsoleIdp,
    ConsolePage,
    ConsolePanel,
    ConsoleUserFilter,
    FailureLimit,
    console_actor,
    console_form,
    console_fragment,
    console_page,
    console_redirect,
)
from gateway.core import Gateway
from gateway.errors import Conflict, GatewayError, NotFound, did_you_mean
from gateway.hookspecs import (
    Answer,
    CommonOptions,
    ConsoleItem,
    GatewayCommand,
    Subcommands,
    every_provider,
    hookimpl,
    own_providers,
)
from gateway.ids import new_id
from gateway.params import INT64_MAX, parse_int
from gateway.profile import FIELDS as PROFILE_FIELDS
from gateway.scim.ast import AttrPath, lookup
from gateway.scim.errors import ERROR_SCHEMA, ScimError
from gateway.scim.evaluate import element_matches, resource_values
from gateway.scim.path import PatchPath, parse_path, path_values
from gateway.scim.schema import (
    BULK_REQUEST,
    BULK_RESPONSE,
    ENTERPRISE_SCHEMA,
    GROUP_SCHEMA,
    GROUP_TYPE,
    LIST_RESPONSE,
    PATCH_OP,
    RESOURCE_TYPE_SCHEMA,
    SCHEMA_SCHEMA,
    SEARCH_REQUEST,
    SPC_SCHEMA,
    USER_SCHEMA,
    USER_TYPE,
    Attribute,
    Registry,
    ResourceType,
    Schema,
)
from gateway.settings import ConfigError
from gateway.store.base import (
    Conn,
    CredentialRow,
    IntegrityError,
    Migration,
    ProviderRow,
    json_column,
    keyset_page,
    migrations_in,
)

__all__ = [
    # hooks and the running gateway; which providers a hook sees; what a hook may return
    "hookimpl", "Gateway", "ConfigError", "every_provider", "own_providers", "Answer",
    # refusals
    "GatewayError", "NotFound", "Conflict", "ScimError", "ActionRefused", "did_you_mean",
    # credentials (authenticate / issue_credential hooks)
    "Principal", "IssuedCredential", "CredentialRow", "ProviderRow", "hash_secret",
    "verify_secret", "bearer_token",
    # a plugin's own credential endpoint (an OAuth token endpoint): limits and failure counts
    "limit_token_request", "auth_failed", "limit_token_issue",
    # lifecycle (lifecycle_decision hook), user lists (user_columns), profiles
    "Decision", "UserColumn", "PROFILE_FIELDS",
    # tables of your own (migrations hook) and SQL on both stores
    "Migration", "migrations_in", "Conn", "IntegrityError", "json_column", "keyset_page",
    "new_id",
    # schemas (register_schemas), attribute paths and filters
    "Attribute", "Schema", "ResourceType", "Registry", "USER_TYPE", "GROUP_TYPE",
    # every schema URN the core serves (each a str)
    "USER_SCHEMA", "GROUP_SCHEMA", "ENTERPRISE_SCHEMA", "PATCH_OP", "LIST_RESPONSE",
    "SEARCH_REQUEST", "BULK_REQUEST", "BULK_RESPONSE", "ERROR_SCHEMA", "SCHEMA_SCHEMA",
    "RESOURCE_TYPE_SCHEMA", "SPC_SCHEMA",
    "AttrPath", "PatchPath", "parse_path", "path_values", "lookup", "resource_values",
    "element_matches",
    # admin routes (extra_routes / provider_routes hooks)
    "read_json", "read_form", "read_body", "json_body", "int_param", "limit_param", "created",
    "JsonResponse",
    # any integer a request spells (query, path, form field, header): 400 unless it is one
    "parse_int", "INT64_MAX",
    # describing them in /admin/v1/openapi.json
    "Operation", "documented",
    # settings
    "parse_duration",
    # commands (cli_commands)
    "Subcommands", "CommonOptions", "GatewayCommand",
    # the web console (console_pages hook)
    "ConsolePage", "ConsolePanel", "ConsoleIdp", "ConsoleUserFilter", "ConsoleItem",
    "FailureLimit", "console_page", "console_fragment", "console_form", "console_actor",
    "console_redirect",
]
