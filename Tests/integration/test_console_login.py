"""One-time console logins: `depotctl token issue --console` prints a link
that logs its user into the console once. The code travels in the URL
fragment (never sent to a server), is taken out of the address bar at once,
is spent only when the user clicks (a link scanner that opens the page
spends nothing), works once, and shows up in no log."""
import os
import re
import time
import uuid

import requests

from console_browser import browser, console  # noqa: F401 - fixtures
from depotctl_cli import run, run_json
from conftest import Client

ROUTE = "/api/v1/console/sessions"


def login_link(stack, user, org, role="member", *extra):
    issued = run_json(stack, "token", "issue", "--console", "--user", user, "--org", org, "--role", role, *extra)
    assert set(issued) == {"console_url", "expires_at"}
    url = issued["console_url"]
    assert url.startswith(stack.base_url + "/console/#login=")
    return url, url.split("#login=", 1)[1]


def logs(stack):
    text = ""
    for name in os.listdir(stack.path("logs")):
        with open(stack.path("logs", name), errors="replace") as f:
            text += f.read()
    return text


def test_a_login_link_opens_the_console_once_on_a_click_and_leaves_no_trace(console, stack):
    admin = Client(stack, role="admin")
    admin.get("/api/v1/storage/quota").raise_for_status()
    url, code = login_link(stack, admin.user, admin.org, "admin", "--ttl", "900")

    # Opening the page (as a mail scanner would) takes the code out of the
    # address bar and spends nothing.
    scanner = console()
    scanner.page.goto(url)
    scanner.page.get_by_role("button", name="Continue with this link").wait_for()
    assert "#" not in scanner.page.url and code not in scanner.page.url
    assert scanner.page.evaluate("location.hash") == ""
    assert scanner.page.evaluate("sessionStorage.length") == 0
    scanner.screenshot("login-link-offered")

    c = console()
    c.page.goto(url)
    c.page.get_by_role("button", name="Continue with this link").click()
    c.page.wait_for_selector("#app:not([hidden])")
    assert "#" not in c.page.url and code not in c.page.url
    # Logged in as the user the link was made for, with their role.
    who = c.page.locator("#who").inner_text()
    assert admin.user in who and "admin" in who
    assert c.page.locator('.tabs [data-view="admin"]').is_visible()
    token = c.page.evaluate("sessionStorage.getItem('depot.console.token')")
    assert token and requests.get(stack.base_url + "/api/v1/storage/quota", timeout=10,
                                  headers={"Authorization": "Bearer " + token}).status_code == 200
    c.screenshot("login-link")
    c.assert_clean(code, token)

    # The same link a second time: refused, with a message, and the login form.
    again = console()
    again.page.goto(url)
    again.page.get_by_role("button", name="Continue with this link").click()
    again.notice("not valid: it was used already or has expired")
    assert again.page.locator("#login").is_visible()
    assert "#" not in again.page.url
    again.screenshot("login-link-used")

    time.sleep(0.5)
    text = logs(stack)
    assert code not in text and token not in text
    granted = [line for line in text.splitlines() if "console login" in line and "refused" not in line]
    assert any(admin.user in line for line in granted), granted
    assert any("console login refused" in line and "reason=used" in line for line in text.splitlines())


def test_the_sessions_route_refuses_used_altered_and_malformed_codes(stack):
    member = Client(stack)
    member.get("/api/v1/storage/quota").raise_for_status()
    _, code = login_link(stack, member.user, member.org, "member", "--ttl", "60")
    route = stack.base_url + ROUTE
    altered = code[:-2] + ("AA" if code[-2:] != "AA" else "BB")
    r = requests.post(route, json={"code": altered}, timeout=10)
    assert r.status_code == 401 and r.json()["error"]["code"] == "invalid_login_code"
    first = requests.post(route, json={"code": code}, timeout=10)
    assert first.status_code == 201 and first.headers["Cache-Control"] == "no-store"
    body = first.json()
    assert set(body) == {"token", "expires_at"}
    token_user = Client(stack, org=member.org, user=member.user, token=body["token"])
    assert token_user.get("/api/v1/storage/quota").status_code == 200
    second = requests.post(route, json={"code": code}, timeout=10)
    assert second.status_code == 401 and second.json()["error"]["code"] == "invalid_login_code"
    for bad, error in ((b"", "invalid_parameter"), (b"not json", "invalid_json"), (b'{"code": 1}', "invalid_parameter"),
                       (b'{"code": "x", "extra": 1}', "invalid_parameter")):
        r = requests.post(route, data=bad, headers={"Content-Type": "application/json"}, timeout=10)
        assert r.status_code == 400 and r.json()["error"]["code"] == error, (bad, r.text)
    # nginx refuses a body over 4 KiB before a worker sees it.
    big = requests.post(route, data=b'{"code": "' + b"a" * 8000 + b'"}', headers={"Content-Type": "application/json"}, timeout=10)
    assert big.status_code == 413 and big.headers["Content-Type"].startswith("application/json")
    r = requests.get(route, timeout=10)
    assert r.status_code == 405 and r.headers["Allow"] == "POST"


def test_guessing_is_rate_limited_per_client(fresh_stack):
    s = fresh_stack()
    answers = [requests.post(s.base_url + ROUTE, json={"code": "x" * 64}, timeout=10) for _ in range(40)]
    statuses = [r.status_code for r in answers]
    assert statuses[0] == 401 and 429 in statuses, statuses
    limited = answers[statuses.index(429)]
    assert limited.json()["error"]["code"] == "rate_limited" and limited.headers["Retry-After"]


def test_depotctl_checks_its_arguments(stack):
    user, org = str(uuid.uuid4()), str(uuid.uuid4())
    done = run(stack, "token", "issue", "--console", "--user", user, "--org", org, "--login-ttl", "5")
    assert done.returncode != 0 and "--login-ttl" in done.stderr
    done = run(stack, "token", "issue", "--console", "--user", user, "--org", org)
    assert done.returncode == 0 and re.fullmatch(re.escape(stack.base_url) + r"/console/#login=[A-Za-z0-9_-]{64}\n", done.stdout)
