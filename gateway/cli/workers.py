"""`serve --workers N`: N worker processes answering on one listening socket.

The process that runs `serve` binds the socket, runs the first-start bootstrap, then starts
the workers: each is `identity-gateway serve` again, given the socket's descriptor, the
number of workers and the environment (the same config file, database and flags), so it
builds its own app, store connections and background loops from scratch. The kernel hands
each new connection to one of them. The first process only watches:

- a worker that exits while serve runs (killed, crashed) is replaced, and its requests in
  flight fail as they would on a replica's crash; one that keeps failing at start stops
  serve, with its output above saying why;
- what the workers share lives in a folder of their own under the system's temporary
  folder, removed when serve ends: prometheus-client's metric files and the buckets of the
  limits on failed authentication (gateway.accounts.shared_limits);
- SIGTERM or SIGINT is passed on to every worker, which finishes its requests in flight
  (`shutdown_timeout`) before it exits; those still running after that are killed;
- a worker dies with it (the kernel sends it SIGKILL when its parent ends, however it
  ends), so killing serve never leaves workers behind holding the port.

What makes N workers as safe as one is the store, not this module: every claim of
background work is a row taken in a transaction (docs/deploy.md, "N replicas"), SQLite
writes take turns across processes (gateway.store.sqlite), per-process limits are shared
out among the workers (gateway.settings.per_worker), and metrics add up through
prometheus-client's multiprocess files (gateway.observability.metrics).
"""

from __future__ import annotations

import ctypes
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import FrameType

from gateway.accounts import throttle
from gateway.observability.flush_calls import FlushCalls

log = logging.getLogger("identity_gateway.workers")

SUPERVISOR = "IDENTITY_GATEWAY_SUPERVISOR"  # the pid a worker dies with
METRICS_DIR = "PROMETHEUS_MULTIPROC_DIR"  # read by prometheus-client when it is imported
RUN_PREFIX = "identity-gateway-"
QUICK_EXIT = 10.0  # seconds: a worker that exits sooner after its start failed to start
QUICK_EXITS = 3  # such failures in a row that stop serve
STOP_MARGIN = 5.0  # seconds past shutdown_timeout before the workers still running are killed
PR_SET_PDEATHSIG = 1


class Supervisor:
    """The workers of one serve, by slot."""

    def __init__(self, socks: list[socket.socket], workers: int, argv: list[str],
                 shutdown_timeout: float) -> None:
        self.socks = socks  # one per worker slot, or one for all
        self.count = workers
        self.argv = argv
        self.shutdown_timeout = shutdown_timeout
        self.procs: dict[int, subprocess.Popen] = {}
        self.started: dict[int, float] = {}
        self.quick_exits = 0
        self.stopping = False
        self.run_dir = run_dir()
        self.metrics_dir = str(self.run_dir / "metrics")
        os.mkdir(self.metrics_dir, 0o700)
        throttle.make_shared(str(self.run_dir / "limits"))
        FlushCalls.create(str(self.run_dir / "flush-calls"))

    def command(self, fd: int, slot: int) -> list[str]:
        return [sys.executable, "-m", "gateway.cli.main", *self.argv,
                "--workers", str(self.count), "--worker-socket", str(fd),
                "--worker-dir", str(self.run_dir), "--worker-slot", str(slot)]

    def start(self, slot: int) -> None:
        """Start the worker of `slot`, on the slot's socket: a replacement takes over the
        connections the kernel queued there for the worker it replaces."""
        env = {**os.environ, SUPERVISOR: str(os.getpid()), METRICS_DIR: self.metrics_dir}
        fd = self.socks[slot % len(self.socks)].fileno()
        self.procs[slot] = subprocess.Popen(self.command(fd, slot), env=env, pass_fds=(fd,))
        self.started[slot] = time.monotonic()

    def run(self) -> int:
        """Start the workers and watch them until a signal stops serve; the exit status."""
        previous = {sig: signal.signal(sig, self._stop) for sig in (signal.SIGTERM,
                                                                    signal.SIGINT)}
        try:
            for slot in range(self.count):
                self.start(slot)
            log.info("serving with %d worker processes: %s", self.count,
                     ", ".join(str(p.pid) for p in self.procs.values()))
            status = self._watch()
        finally:
            self._stop_all()
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            shutil.rmtree(self.run_dir, ignore_errors=True)
        return status

    def _stop(self, signum: int, frame: FrameType | None) -> None:
        self.stopping = True

    def _watch(self) -> int:
        while not self.stopping:
            time.sleep(0.2)
            for slot, proc in list(self.procs.items()):
                code = proc.poll()
                if code is None or self.stopping:
                    continue
                if time.monotonic() - self.started[slot] < QUICK_EXIT:
                    self.quick_exits += 1
                else:
                    self.quick_exits = 0
                if self.quick_exits >= QUICK_EXITS:
                    log.error("worker %d exited with status %s %d times in a row right after "
                              "starting: stopping (its output above says why)", proc.pid,
                              _status(code), self.quick_exits)
                    return 1
                log.warning("worker %d exited with status %s: starting another", proc.pid,
                            _status(code))
                self.start(slot)
        return 0

    def _stop_all(self) -> None:
        """SIGTERM to every worker still running; SIGKILL to those still running after
        shutdown_timeout and a margin."""
        running = [p for p in self.procs.values() if p.poll() is None]
        for proc in running:
            proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + self.shutdown_timeout + STOP_MARGIN
        for proc in running:
            try:
                proc.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def run_dir() -> Path:
    """A new owner-only folder for what the workers share (their metric files, their limits'
    buckets), named after this process; those of serve processes no longer running (killed
    before they could clean up) are removed first."""
    base = Path(tempfile.gettempdir())
    for old in base.glob(f"{RUN_PREFIX}*"):
        pid = old.name[len(RUN_PREFIX):].partition("-")[0]
        if pid.isdigit() and not running(int(pid)):
            shutil.rmtree(old, ignore_errors=True)
    return Path(tempfile.mkdtemp(prefix=f"{RUN_PREFIX}{os.getpid()}-"))


def running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


def _status(code: int) -> str:
    return f"{code}" if code >= 0 else f"{code} ({signal.Signals(-code).name})"


def die_with_supervisor() -> None:
    """In a worker: be killed when the serve process that started it ends, however it ends
    (Linux's parent-death signal); exit now if it has already ended."""
    supervisor = os.environ.get(SUPERVISOR)
    if supervisor is None:
        return
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):  # not Linux: the worker outlives a killed serve
        pass
    if os.getppid() != int(supervisor):
        sys.exit(0)
