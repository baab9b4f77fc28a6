"""A user's states and what each means for signing in: the vocabulary the lifecycle
(gateway.accounts.lifecycle) moves users through and the events describe (a module of its
own, below both, so that describing a user needs nothing of the lifecycle's work)."""

from __future__ import annotations

ACTIVE = "active"
PENDING = "pending_deactivation"
DEACTIVATED = "deactivated"
BLOCKED = "blocked"
HELD = "deactivation_held"
STATES = (ACTIVE, PENDING, DEACTIVATED, BLOCKED, HELD)


def is_blocked(state: str, block_reason: str | None) -> bool:
    return state == BLOCKED or block_reason is not None


def can_sign_in(state: str, block_reason: str | None) -> bool:
    return state in (ACTIVE, PENDING) and block_reason is None
