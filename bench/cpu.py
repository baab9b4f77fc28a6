"""A server's CPU time from /proc: the process, every process under it (a server that forks
workers) and the children it has reaped, so that work done in any of them counts."""

from __future__ import annotations

import os

TICK = os.sysconf("SC_CLK_TCK")


def _stat(pid: int) -> list[str] | None:
    """The fields of /proc/PID/stat after the command name (state is [0], ppid [1])."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()
    except OSError:
        return None


def descendants(pid: int) -> list[int]:
    """Every live process under `pid`, at any depth."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            fields = _stat(int(entry))
            if fields is not None:
                children.setdefault(int(fields[1]), []).append(int(entry))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def tree_cpu_seconds(pid: int) -> float:
    """utime + stime of `pid` and of every process under it, and cutime + cstime (the
    children they reaped), in seconds."""
    total = 0
    for member in [pid, *descendants(pid)]:
        fields = _stat(member)
        if fields is not None:
            total += sum(int(v) for v in fields[11:15])
    return total / TICK
