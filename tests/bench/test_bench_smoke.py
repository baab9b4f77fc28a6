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
    env = {**os.environ, "BENCH_SCALE": "smoke", "BENCH_STORE": "sqlite",
           "BENCH_OUT": str(out)}
    done = subprocess.run([sys.executable, "-m", "bench"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)
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
