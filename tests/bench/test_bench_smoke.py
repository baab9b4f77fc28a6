"""`make bench` runs: a small scale end to end. It checks that the bench works, not speed."""

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SCENARIOS = {"initial_sync", "get_by_id", "lookup_username", "lookup_externalid", "patch_user",
             "put_user", "group_add_members", "group_get_no_members", "list_paging"}


def test_bench_runs_at_smoke_scale(tmp_path):
    out = tmp_path / "results.json"
    env = {**os.environ, "BENCH_SCALE": "smoke", "BENCH_STORE": "sqlite", "BENCH_SUITE": "all",
           "BENCH_PEERS": "0", "BENCH_OUT": str(out)}
    done = subprocess.run([sys.executable, "-m", "bench"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads(out.read_text())
    assert report["store"] == "sqlite" and report["scale"] == "smoke"
    assert SCENARIOS <= set(report["scenarios"])
    for name, scenario in report["scenarios"].items():
        assert scenario["errors"] == 0, name
        assert scenario["rps"] > 0 and scenario["p50_ms"] <= scenario["p99_ms"], name
    assert report["floor_rps"] > 0 and report["peak_rss_mb"] > 0
    assert report["scale_ratios"]["group_add_100"]["ratio"] > 0
    assert report["scale_ratios"]["durable_vs_normal"]["create_user"]["ratio"] > 0
    for name in ("initial_sync", "create_user", "patch_user", "put_user"):  # SQLite's WAL
        assert report["scenarios"][name]["wal_peak_mb"] > 0, name
        assert report["scale_ratios"]["durable_vs_normal"][name]["wal_peak_mb_full"] > 0
    assert "wal_peak_mb" not in report["scenarios"]["get_by_id"]
    assert "initial_sync" in done.stdout
    cost = report["logging"]  # GET-by-id with the JSON request log on and off
    assert cost["log_on"]["errors"] == 0 and cost["log_off"]["errors"] == 0
    assert cost["ratio_on_to_off"] > 0
    # The gateway's own CPU, from /proc: counted in 10 ms ticks per process, so a scenario
    # of a few requests spread over serve's workers can read 0; one of hundreds cannot.
    for name, scenario in report["scenarios"].items():
        if not scenario["requests"]:
            continue
        assert scenario["cpu_us_per_request"] >= 0, name
        if scenario["requests"] >= 200:
            assert scenario["cpu_us_per_request"] > 0, name
    assert_side_by_side(report["compare"])
    assert "page of 100" in done.stdout and "us CPU" in done.stdout


def assert_side_by_side(compare: dict) -> None:
    """The issue's rows on the gateway (peers left out: BENCH_PEERS=0), each with req/s and
    server CPU per request, the group really filled, /healthz probed during the writes."""
    assert compare["servers"] == ["gateway SQLite"]
    assert set(compare["scenarios"]) == {"post_user", "lookup_username", "get_by_id",
                                         "patch_user", "page_100", "add_100_members",
                                         "remove_100_members"}
    for name, cells in compare["scenarios"].items():
        cell = cells["gateway SQLite"]
        assert cell["errors"] == 0 and cell["rps"] > 0, name
        # As above: 10 ms ticks per process. The group rows send a few PATCHes at this
        # scale, a few milliseconds of CPU over serve's workers, which can read no tick.
        if cell["requests"] >= 200:
            assert cell["cpu_us_per_request"] > 0, name
        else:
            assert cell["cpu_us_per_request"] is None or cell["cpu_us_per_request"] > 0, name
    added = compare["scenarios"]["add_100_members"]["gateway SQLite"]
    assert added["group_members"] == added["members_sent"] > 0
    assert compare["floor"]["rps"] > 0 and compare["stack"]["http"] in ("h11", "httptools")
    probe = compare["healthz_during_writes"]["gateway SQLite"]
    assert probe["probes"] > 0 and probe["failures"] == 0
