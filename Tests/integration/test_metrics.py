"""/metrics as monitoring sees it: Prometheus's own linter (`promtool check
metrics`) finds nothing to say, a real Prometheus scrapes the stack, and the
Grafana dashboard in docs/grafana names only metrics /metrics exports, in
queries Prometheus accepts."""
import json
import os
import re
import subprocess
import time
import uuid

import pytest
import requests

from conftest import REPO, Client
from prometheus_server import INSTALL, PrometheusServer, prometheus_binary

DASHBOARD = os.path.join(REPO, "docs", "grafana", "depot-dashboard.json")
# The words of PromQL that are not metric names (functions are followed by "(").
PROMQL_WORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "and", "or", "unless", "bool", "offset"}
# Grafana's variables, as Prometheus would see them once Grafana substituted them.
GRAFANA_VARIABLES = {"$__rate_interval": "1m", "$__interval": "15s", "$instance": ".*"}


def needs(tool):
    return pytest.mark.skipif(prometheus_binary(tool) is None, reason=f"{tool} not installed: {INSTALL}")


def wait_until(check, timeout, what, interval=0.2):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = check()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out waiting for {what}")


def scrape(stack):
    r = requests.get(stack.base_url + "/metrics", timeout=30)
    assert r.status_code == 200, r.text
    return r.text


def samples(text):
    """{(name, labels text): value} of a text exposition."""
    found = {}
    for line in text.splitlines():
        # Label values may hold braces (route="/x/{name}"): a label set is read as quoted strings.
        m = re.match(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(?:[^"}]|"(?:[^"\\]|\\.)*")*\})? (\S+)$', line)
        if m:
            found[(m.group(1), m.group(2) or "")] = float(m.group(3))
    return found


def types(text):
    """{metric family name: type} from the # TYPE lines."""
    return dict(re.findall(r"^# TYPE (\S+) (\S+)$", text, re.M))


def requests_counted(text, method, route, status):
    labels = f'{{method="{method}",route="{route}",status="{status}"}}'
    return samples(text).get(("depot_requests_total", labels), 0)


@pytest.fixture(scope="module")
def traffic(stack):
    """An upload, a download and a 404 seen by /metrics; returns the file."""
    client = Client(stack)
    name = f"metrics-{uuid.uuid4().hex}.txt"
    made = client.upload(name, b"counted")
    assert made.status_code == 201, made.text
    download = client.get("/api/v1/objects/download", params={"objectKey": made.json()["object_key"]})
    assert download.status_code == 200 and download.content == b"counted"
    missing = client.get(f"/api/v1/storage/objects/{name}-missing/metadata")
    assert missing.status_code == 404
    wait_until(lambda: requests_counted(scrape(stack), "GET", "/api/v1/storage/objects/{object_name}/metadata", 404),
               20, "the 404 in /metrics")
    return made.json()


@needs("promtool")
def test_promtool_finds_nothing_to_say(stack, traffic):
    # Prometheus's linter on the real output after traffic: exit 0 and not one remark
    # (names, _total on counters only, HELP and TYPE for every family, base units).
    text = scrape(stack)
    for method, route, status in (("POST", "/api/v1/storage/upload", 201), ("GET", "/api/v1/objects/download", 200),
                                  ("GET", "/api/v1/storage/objects/{object_name}/metadata", 404)):
        assert requests_counted(text, method, route, status) >= 1, (method, route, status)
    check = subprocess.run([prometheus_binary("promtool"), "check", "metrics"], input=text, capture_output=True,
                           text=True, timeout=60)
    assert check.returncode == 0, check.stdout + check.stderr
    assert check.stdout.strip() == "" and check.stderr.strip() == "", check.stdout + check.stderr


@pytest.fixture(scope="module")
def prometheus(stack, tmp_root):
    """A Prometheus of the test's own (port, config, data) scraping the stack every second."""
    server = PrometheusServer(os.path.join(tmp_root, f"prometheus-{uuid.uuid4().hex[:8]}"),
                              f"127.0.0.1:{stack.port}", job="depot", scrape_interval="1s")
    server.start()
    yield server
    server.stop()


def instant(prometheus, expr):
    """The single value of an instant query, or None while it has none."""
    result = prometheus.query(expr)
    return float(result[0]["value"][1]) if len(result) == 1 else None


@needs("prometheus")
def test_prometheus_scrapes_the_stack(stack, traffic, prometheus):
    # A real Prometheus reaches /metrics through nginx (from 127.0.0.1), finds the target up, and its
    # request counter for a route this test called grows by at least the calls made (the stack is shared).
    client = Client(stack)
    route = ("GET", "/api/v1/storage/usage", 200)
    before, calls = requests_counted(scrape(stack), *route), 7
    for _ in range(calls):
        assert client.get("/api/v1/storage/usage").status_code == 200
    wait_until(lambda: instant(prometheus, 'up{job="depot"}') == 1, 30, "the target up")
    target = next(t for t in prometheus.targets() if t["labels"]["job"] == "depot")
    assert target["health"] == "up" and target["lastError"] == "", target
    counted = 'sum(depot_requests_total{job="depot",method="GET",route="/api/v1/storage/usage",status="200"})'
    wait_until(lambda: (instant(prometheus, counted) or 0) >= before + calls, 30, f"{counted} >= {before + calls}")
    # The upload of the traffic fixture, as bytes stored.
    assert wait_until(lambda: instant(prometheus, 'depot_upload_bytes_total{job="depot"}'), 30, "upload bytes") >= len(b"counted")


def dashboard():
    with open(DASHBOARD) as f:
        return json.load(f)


def panels(board):
    """Every panel, also those inside collapsed rows."""
    for panel in board["panels"]:
        yield panel
        yield from panel.get("panels", [])


def expressions(board):
    return [(panel["title"], target["expr"]) for panel in panels(board) for target in panel.get("targets", [])]


def metric_names(expr):
    """The metric names a PromQL expression reads (label matchers, grouping
    labels, ranges, strings and function names left out)."""
    text = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)
    text = re.sub(r"\{[^}]*\}", "", text)
    text = re.sub(r"\[[^\]]*\]", "", text)
    text = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", "", text)
    text = re.sub(r"\b[a-zA-Z_][a-zA-Z0-9_]*\s*\(", "(", text)
    words = re.findall(r"(?<![\w$.])[a-zA-Z_:][a-zA-Z0-9_:]*", text)
    return {w for w in words if w not in PROMQL_WORDS}


def test_dashboard_imports_into_grafana():
    # The JSON parses and carries what Grafana's import asks for: the datasource input every
    # panel uses, schema version, title and uid; panel ids are unique and every panel has a query.
    board = dashboard()
    assert board["__inputs"] == [{"name": "DS_PROMETHEUS", "label": "Prometheus", "description": "",
                                  "type": "datasource", "pluginId": "prometheus", "pluginName": "Prometheus"}]
    assert any(r["type"] == "datasource" and r["id"] == "prometheus" for r in board["__requires"])
    assert board["schemaVersion"] >= 36 and board["title"] and re.fullmatch(r"[a-z0-9-]{1,40}", board["uid"])
    ids = [p["id"] for p in panels(board)]
    assert len(ids) == len(set(ids))
    for panel in panels(board):
        if panel["type"] == "row":
            continue
        assert panel["datasource"] == {"type": "prometheus", "uid": "${DS_PROMETHEUS}"}, panel["title"]
        assert panel["targets"] and all(t["expr"] for t in panel["targets"]), panel["title"]
        assert {"h", "w", "x", "y"} <= set(panel["gridPos"]), panel["title"]
    for variable in board["templating"]["list"]:
        if variable.get("datasource"):
            assert variable["datasource"] == {"type": "prometheus", "uid": "${DS_PROMETHEUS}"}, variable["name"]


def test_dashboard_names_only_exported_metrics(stack, traffic):
    # Every metric a panel queries is in the live /metrics, and rate()/increase() read counters only.
    text = scrape(stack)
    exported = {name for name, _ in samples(text)}
    kinds = types(text)
    used = set()
    for title, expr in expressions(dashboard()):
        names = metric_names(expr)
        assert names, (title, expr)
        missing = names - exported
        assert not missing, f"panel {title!r} queries {sorted(missing)}, which /metrics does not export"
        for name in re.findall(r"\b(?:rate|irate|increase)\(\s*([a-zA-Z_:][a-zA-Z0-9_:]*)", expr):
            assert kinds.get(name) == "counter", f"panel {title!r}: {name} is a {kinds.get(name)}, not a counter"
        used |= names
    # Each family /metrics exports is on the dashboard.
    assert set(kinds) - used == set(), f"not on the dashboard: {sorted(set(kinds) - used)}"


@needs("prometheus")
def test_dashboard_queries_run_in_prometheus(stack, traffic, prometheus):
    # Prometheus evaluates every panel's query (Grafana's variables filled in) without an error,
    # and the request-rate panel has data once the stack has been scraped twice.
    board = dashboard()
    wait_until(lambda: (instant(prometheus, 'count_over_time(up{job="depot"}[1m])') or 0) >= 3, 30, "three scrapes")
    for title, expr in expressions(board):
        for variable, value in GRAFANA_VARIABLES.items():
            expr = expr.replace(variable, value)
        assert "$" not in expr, f"panel {title!r}: a Grafana variable the test does not know: {expr}"
        prometheus.query(expr)
    rate_expr = next(expr for title, expr in expressions(board) if title == "Requests per second by route and status")
    for variable, value in GRAFANA_VARIABLES.items():
        rate_expr = rate_expr.replace(variable, value)
    assert wait_until(lambda: prometheus.query(rate_expr), 30, "request rates")
