"""The Grafana dashboard (docs/grafana-tariq.json) queries only metrics Tariq exports, and
the web server merges workers' expositions under a `worker` label."""

from __future__ import annotations

import json
import re
import urllib.request
from pathlib import Path

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

import dashboards.metrics as web_metrics
from dashboards.metrics import WebMetrics, worker_families
from stream import metrics as worker_metrics
from tests.support.service import free_port

ROOT = Path(__file__).resolve().parents[2]
SUFFIXES = ("_total", "_bucket", "_sum", "_count", "_created")


def exported_names() -> set[str]:
    names = {f.name for f in worker_metrics.REGISTRY.collect()}
    names |= {f.name for f in WebMetrics().registry.collect()}
    # The families the web server builds at scrape time (from Redis and PostgreSQL).
    source = Path(web_metrics.__file__).read_text()
    names |= set(re.findall(r'"(tariq_[a-z_]+)"', source))
    return names


def base(name: str) -> str:
    for suffix in SUFFIXES:
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name


def test_dashboard_queries_only_exported_metrics() -> None:
    dashboard = json.loads((ROOT / "docs" / "grafana-tariq.json").read_text())
    used = {
        base(name)
        for panel in dashboard["panels"]
        for target in panel["targets"]
        for name in re.findall(r"tariq_[a-z_]+", target["expr"])
    }
    assert used and used <= exported_names(), used - exported_names()


def test_worker_expositions_merge_with_a_worker_label() -> None:
    worker_metrics.BATCH_SIZE.observe(3)
    text = worker_metrics.exposition()
    merged = worker_families({"host-1": text, "host-2": text})
    registry = CollectorRegistry()

    class Fixed:
        def collect(self):  # type: ignore[no-untyped-def]
            return merged

    registry.register(Fixed())  # type: ignore[arg-type]
    families = list(text_string_to_metric_families(generate_latest(registry).decode()))
    sizes = [f for f in families if f.name == "tariq_worker_batch_size"]
    assert len(sizes) == 1
    workers = {s.labels["worker"] for s in sizes[0].samples}
    assert workers == {"host-1", "host-2"}


def test_a_worker_serves_its_own_metrics_on_its_port() -> None:
    port = free_port()
    worker_metrics.serve(port)
    worker_metrics.DELIVERIES.labels("delivered").inc()
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
        text = response.read().decode()
    families = {f.name: f for f in text_string_to_metric_families(text)}
    delivered = [
        s
        for s in families["tariq_webhook_deliveries"].samples
        if s.name.endswith("_total") and s.labels == {"outcome": "delivered"}
    ]
    assert delivered and delivered[0].value >= 1


def test_supervisor_restarts_are_counted_per_process() -> None:
    family = web_metrics.restart_family(
        {"worker": {"restarts": 2, "running": True}, "web": {"restarts": 0, "running": True}}
    )
    samples = {s.labels["process"]: s.value for s in family.samples}
    assert family.name == "tariq_supervisor_restarts"
    assert samples == {"web": 0, "worker": 2}
    # Outside `tariq up` there is no supervisor: no samples, not an error.
    assert web_metrics.restart_family(None).samples == []
