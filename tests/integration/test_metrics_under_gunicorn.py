"""Prometheus multiprocess mode under real gunicorn workers, and the health endpoints there."""

from __future__ import annotations

import re
from pathlib import Path

import requests

from tests.support import HttpWallet, gunicorn


def _total(page: str, method: str, error: str) -> float:
    pattern = rf'^wallet_callbacks_total\{{error="{error}",method="{method}"\}} (\S+)$'
    found = re.search(pattern, page, re.M)
    return float(found.group(1)) if found else 0.0


def test_metrics_add_up_every_worker_and_stale_files_are_cleared(postgres_url: str, tmp_path: Path):
    metrics_dir = tmp_path / "prometheus"
    metrics_dir.mkdir()
    stale = metrics_dir / "counter_999999.db"
    stale.write_bytes(b"left by a previous run")  # unreadable: /metrics would fail if it were kept
    env = {"WALLET_DATABASE_URL": postgres_url, "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir)}
    with gunicorn(env, workers=3, threads=2) as base:
        assert not stale.exists()
        wallet = HttpWallet(base)
        wallet.open_player("metrics-1")
        n = 30
        for i in range(n):  # a new connection each time, so that several workers answer
            r = requests.post(f"{base}/V4/Balance", timeout=30, json={
                "providerId": "LuckyMonaco", "userId": "metrics-1", "sessionId": "s", "currency": "USD",
                "uuid": f"metrics-uuid-{i}"})
            assert r.json()["error"] == 0
        pids = {p.name.split("_")[-1] for p in metrics_dir.glob("counter_*.db")}
        pages = [requests.get(f"{base}/metrics", timeout=30).text for _ in range(5)]
        # whichever worker answers /metrics, it reports the sum of all of them
        assert {_total(page, "Balance", "0") for page in pages} == {float(n)}
        assert "wallet_callback_duration_seconds_bucket" in pages[0]
        assert len(pids) >= 1
        assert requests.get(f"{base}/healthz", timeout=10).json() == {"status": "ok"}
        ready = requests.get(f"{base}/readyz", timeout=10)
        assert ready.status_code == 200 and ready.json()["database"] == "ok"


def test_without_a_metrics_directory_gunicorn_makes_a_private_one(postgres_url: str):
    env = {"WALLET_DATABASE_URL": postgres_url, "PROMETHEUS_MULTIPROC_DIR": ""}
    with gunicorn(env, workers=2) as base:
        wallet = HttpWallet(base)
        wallet.open_player("metrics-2")
        assert wallet.call("Balance", userId="metrics-2")["error"] == 0
        page = requests.get(f"{base}/metrics", timeout=30).text
        assert _total(page, "Balance", "0") == 1.0
