"""The bench's CPU figure counts the work of a server's worker processes, not only its own."""

import subprocess
import sys
import time

from bench.cpu import descendants, tree_cpu_seconds

# A parent that does nothing but wait for a worker that spends half a second of CPU.
PARENT = """
import subprocess, sys
worker = subprocess.Popen([sys.executable, "-c", "import time\\n"
                           "while time.process_time() < 0.5: pass"])
worker.wait()
sys.stdin.read()
"""


def wait_for(condition, seconds: float = 60) -> bool:
    deadline = time.monotonic() + seconds
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.02)
    return condition()


def test_a_workers_cpu_counts_while_it_runs_and_after_it_is_reaped():
    parent = subprocess.Popen([sys.executable, "-c", PARENT], stdin=subprocess.PIPE)
    try:
        assert wait_for(lambda: descendants(parent.pid)), "the worker runs under the parent"
        # counted while it runs, though the parent itself spends almost nothing
        assert wait_for(lambda: tree_cpu_seconds(parent.pid) >= 0.2
                        or not descendants(parent.pid))
        assert wait_for(lambda: not descendants(parent.pid))
        # reaped: its half second stays in the parent's count
        assert tree_cpu_seconds(parent.pid) >= 0.45
    finally:
        parent.kill()
        parent.wait()
