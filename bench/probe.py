"""The liveness probe, in a process of its own (so it takes nothing from the load
generator's event loop): `GET /healthz` every 50 ms on one kept-alive connection until its
standard input closes, then a JSON list of [wall-clock time, latency in seconds or null for
a failure] on standard output.

    python -m bench.probe PORT
"""

from __future__ import annotations

import http.client
import json
import sys
import threading
import time


def probe(port: int, stop: threading.Event) -> list[list[float | None]]:
    samples: list[list[float | None]] = []
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    while not stop.is_set():
        began = time.perf_counter()
        at = time.time()
        try:
            conn.request("GET", "/healthz")
            response = conn.getresponse()
            response.read()
            samples.append([at, time.perf_counter() - began if response.status == 200
                            else None])
        except (OSError, http.client.HTTPException):
            samples.append([at, None])
            conn.close()
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        stop.wait(0.05)
    conn.close()
    return samples


def main() -> None:
    stop = threading.Event()
    threading.Thread(target=lambda: (sys.stdin.read(), stop.set()), daemon=True).start()
    json.dump(probe(int(sys.argv[1]), stop), sys.stdout)


if __name__ == "__main__":
    main()
