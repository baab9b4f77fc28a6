"""/Bulk (RFC 7644 section 3.7): many writes in one request, free of HTTP.

Each operation goes through the same provisioning function as its single-resource request
(create / replace / patch / delete), so hooks, lifecycle, sync log and events apply, and each
is its own transaction: RFC bulk is not atomic, and a failed operation leaves the others
committed (the response says which failed).

bulkId references: a POST declares `bulkId`; later or earlier operations may name the new
resource as `bulkId:<id>` in their path or anywhere in their data (member values included).
Operations run in dependency order: repeatedly, the first operation in request order whose
references all resolve runs next, so forward references work. An operation that references
a bulkId whose POST failed fails with 409; references no operation declares fail with 400
invalidValue; a circular set of references (RFC 7644 3.7.1) fails each operation in the
cycle with 409, which the RFC allows in place of breaking the cycle.

failOnErrors: once that many operations have failed, the rest are not run and are left out
of the response.
"""

from __future__ import annotations

import logging
import re
from typing import TYPE_CHECKING, Any

import msgspec

from gateway.accounts.custom_attributes import registry_of
from gateway.context import RequestContext, in_batch
from gateway.ids import new_id
from gateway.provisioning import writes
from gateway.scim.errors import ScimError
from gateway.scim.schema import BULK_REQUEST, BULK_RESPONSE, Registry, ResourceType
from gateway.store.base import StoreUnavailable

if TYPE_CHECKING:
    from gateway.core import Gateway

log = logging.getLogger("identity_gateway.bulk")

METHODS = ("POST", "PUT", "PATCH", "DELETE")
REFERENCE = re.compile(r"bulkId:(.+)\Z")


class Operation(msgspec.Struct, kw_only=True):
    index: int
    method: str
    path: str
    bulk_id: str | None = None
    version: str | None = None
    data: Any = None
    problem: ScimError | None = None  # a malformed operation fails alone, not the request
    refs: frozenset[str] = frozenset()


def syntax(detail: str) -> ScimError:
    return ScimError(400, detail, "invalidSyntax")


def parse_request(body: Any, max_operations: int) -> tuple[list[Operation], int | None]:
    """The operations and failOnErrors; request-level errors raise (400, or 413 for too many
    operations)."""
    if not isinstance(body, dict):
        raise syntax("A BulkRequest must be a JSON object")
    fields = {key.lower(): value for key, value in body.items()}
    schemas = fields.get("schemas")
    if not isinstance(schemas, list) or BULK_REQUEST not in schemas:
        raise syntax(f"A BulkRequest must list the schema {BULK_REQUEST}")
    raw_ops = fields.get("operations")
    if not isinstance(raw_ops, list) or not raw_ops:
        raise syntax("A BulkRequest needs a non-empty 'Operations' list")
    if len(raw_ops) > max_operations:
        raise ScimError(413, f"The BulkRequest has {len(raw_ops)} operations; the maximum is "
                             f"{max_operations}")
    fail_on = fields.get("failonerrors")
    if fail_on is not None and (isinstance(fail_on, bool) or not isinstance(fail_on, int)
                                or fail_on < 1):
        raise ScimError(400, "failOnErrors must be a positive integer", "invalidValue")
    ops = [parse_operation(i, raw) for i, raw in enumerate(raw_ops)]
    declared = [op.bulk_id for op in ops if op.bulk_id is not None]
    duplicate = next((b for b in declared if declared.count(b) > 1), None)
    if duplicate is not None:
        raise ScimError(400, f"bulkId '{duplicate}' is declared more than once", "invalidValue")
    return ops, fail_on


def parse_operation(index: int, raw: Any) -> Operation:
    if not isinstance(raw, dict):
        return Operation(index=index, method="", path="",
                         problem=syntax(f"Operation {index + 1} is not an object"))
    fields = {key.lower(): value for key, value in raw.items()}
    method = str(fields.get("method") or "").upper()
    path = fields.get("path")
    bulk_id = fields.get("bulkid")
    op = Operation(index=index, method=method, path=path if isinstance(path, str) else "",
                   bulk_id=bulk_id if isinstance(bulk_id, str) and bulk_id else None,
                   version=fields.get("version") if isinstance(fields.get("version"), str)
                   else None, data=fields.get("data"))
    op.refs = frozenset(references(op.path) | references(op.data))
    if method not in METHODS:
        op.problem = syntax(f"Operation {index + 1}: method must be one of {', '.join(METHODS)}")
    elif not isinstance(path, str) or not path.startswith("/"):
        op.problem = syntax(f"Operation {index + 1}: 'path' must be a path such as /Users")
    elif method == "POST" and op.bulk_id is None:
        op.problem = syntax(f"Operation {index + 1}: a POST needs a 'bulkId'")
    elif method != "DELETE" and not isinstance(op.data, dict):
        op.problem = syntax(f"Operation {index + 1}: {method} needs a 'data' object")
    return op


def references(value: Any) -> set[str]:
    """Every `bulkId:<id>` string inside a value (or path segment)."""
    found: set[str] = set()
    stack, budget = [value], 100_000
    while stack and budget > 0:
        budget -= 1
        item = stack.pop()
        if isinstance(item, str):
            for segment in item.split("/"):
                match = REFERENCE.match(segment)
                if match:
                    found.add(match.group(1))
        elif isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return found


def substitute(value: Any, ids: dict[str, str]) -> Any:
    """A copy of value with each `bulkId:<id>` replaced by the created resource's id."""
    if isinstance(value, str):
        return "/".join(_swap(segment, ids) for segment in value.split("/")) \
            if "bulkId:" in value else value
    if isinstance(value, dict):
        return {key: substitute(item, ids) for key, item in value.items()}
    if isinstance(value, list):
        return [substitute(item, ids) for item in value]
    return value


def _swap(segment: str, ids: dict[str, str]) -> str:
    match = REFERENCE.match(segment)
    return ids.get(match.group(1), segment) if match else segment


def target(registry: Registry, op: Operation) -> tuple[ResourceType, str | None]:
    """The resource type and id (None for POST) an operation's path names."""
    parts = [part for part in op.path.split("/") if part]
    rtype = registry.by_endpoint("/" + parts[0]) if parts else None
    if rtype is None:
        raise ScimError(404, f"No resource type at {op.path}")
    if op.method == "POST":
        if len(parts) != 1:
            raise syntax(f"A POST path names a resource type, such as {rtype.endpoint}")
        return rtype, None
    if len(parts) != 2:
        raise syntax(f"A {op.method} path names one resource, such as {rtype.endpoint}/<id>")
    return rtype, parts[1]


async def run_one(gw: Gateway, ctx: RequestContext, op: Operation,
                  ids: dict[str, str]) -> dict:
    """Carry out one operation; its result entry for the BulkResponse."""
    rtype, rid = target(await registry_of(gw, ctx.provider), op)
    data = substitute(op.data, ids)
    if op.method == "POST":
        created = await writes.create(gw, ctx, rtype, data)
        return {"location": created["meta"]["location"], "version": created["meta"]["version"],
                "status": "201"}
    assert rid is not None
    rid = substitute(rid, ids)
    if op.method == "DELETE":
        await writes.delete(gw, ctx, rtype, rid, op.version)
        return {"status": "204"}
    if op.method == "PUT":
        result = await writes.replace(gw, ctx, rtype, rid, data, op.version)
    else:
        result = await writes.patch(gw, ctx, rtype, rid, data, op.version)
    return {"location": result["meta"]["location"], "version": result["meta"]["version"],
            "status": "200"}


def entry(op: Operation, outcome: dict) -> dict:
    out: dict = {"method": op.method or None}
    if op.bulk_id is not None:
        out["bulkId"] = op.bulk_id
    out.update(outcome)
    return {key: value for key, value in out.items() if value is not None}


def failure(error: ScimError) -> dict:
    return {"status": str(error.status), "response": error.body()}


def next_ready(pending: list[Operation], ids: dict[str, str], failed: set[str]) -> Operation:
    """The first operation (request order) whose references are settled; else the first
    pending one, which then fails for its unresolved references."""
    for op in pending:
        if all(ref in ids or ref in failed for ref in op.refs):
            return op
    return pending[0]


def unresolved(op: Operation, ids: dict[str, str], failed: set[str],
               declared: set[str]) -> ScimError | None:
    for ref in sorted(op.refs):
        if ref not in declared:
            return ScimError(400, f"bulkId '{ref}' is not declared by any operation",
                             "invalidValue")
        if ref in failed:
            return ScimError(409, f"bulkId '{ref}' did not resolve: its operation failed")
        if ref not in ids:
            return ScimError(409, f"bulkId '{ref}' is part of a circular reference")
    return None


async def run(gw: Gateway, ctx: RequestContext, body: Any) -> dict:
    """The BulkResponse. The request's sync-log entries, and those hooks record meanwhile,
    are one batch."""
    ops, fail_on = parse_request(body, gw.settings.bulk_max_operations)
    ctx = msgspec.structs.replace(ctx, batch=new_id())
    with in_batch(ctx.batch):
        return await run_all(gw, ctx, ops, fail_on)


async def run_all(gw: Gateway, ctx: RequestContext, ops: list[Operation],
                  fail_on: int | None) -> dict:
    declared = {op.bulk_id for op in ops if op.bulk_id is not None}
    ids: dict[str, str] = {}
    failed: set[str] = set()
    results: dict[int, dict] = {}
    errors = 0
    pending = list(ops)
    while pending and (fail_on is None or errors < fail_on):
        op = next_ready(pending, ids, failed)
        pending.remove(op)
        op_ctx = msgspec.structs.replace(ctx, method=op.method, path=f"{ctx.path} {op.path}")
        try:
            problem = op.problem or unresolved(op, ids, failed, declared)
            if problem is not None:
                raise problem
            outcome = await run_one(gw, op_ctx, op, ids)
            if op.bulk_id is not None and op.method == "POST":
                ids[op.bulk_id] = outcome["location"].rsplit("/", 1)[-1]
        except ScimError as error:
            outcome = failure(error)
        except StoreUnavailable as error:  # this operation was not applied; say why
            outcome = failure(ScimError(error.status, error.detail))
        except Exception:  # one broken operation must not hide the others' outcomes
            log.exception("bulk operation %d (%s %s) failed", op.index + 1, op.method, op.path)
            outcome = failure(ScimError(500, "Internal error; this operation was not applied"))
        if not outcome["status"].startswith("2"):
            errors += 1
            if op.bulk_id is not None:
                failed.add(op.bulk_id)
        results[op.index] = entry(op, outcome)
    return {"schemas": [BULK_RESPONSE],
            "Operations": [results[i] for i in sorted(results)]}
