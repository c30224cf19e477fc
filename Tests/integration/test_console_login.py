"""One-time console logins: `depotctl token issue --console` prints a link
that logs its user into the console once. The code travels in the URL
fragment (never sent to a server), is taken out of the address bar before it
is used, works once, and shows up in no log."""
import os
import re
import time
import uuid

import requests

from console_browser import browser, console  # noqa: F401 - fixtures
from depotctl_cli import run, run_json
from conftest import Client


def login_link(stack, user, org, role="member", *extra):
    issued = run_json(stack, "token", "issue", "--console", "--user", user, "--org", org, "--role", role, *extra)
    assert set(issued) == {"console_url", "expires_at"}
    url = issued["console_url"]
    assert url.startswith(stack.base_url + "/console/#login=")
    return url, url.split("#login=", 1)[1]


def logs(stack):
    text = ""
    for name in ("nginx-access.log", "nginx-error.log", "depot.log"):
        path = stack.path("logs", name)
        if os.path.exists(path):
            with open(path, errors="replace") as f:
                text += f.read()
    return text


def test_a_login_link_opens_the_console_once_and_leaves_no_trace(console, stack):
    admin = Client(stack, role="admin")
    admin.get("/api/v1/storage/quota").raise_for_status()
    url, code = login_link(stack, admin.user, admin.org, "admin", "--ttl", "900")

    c = console()
    c.page.goto(url)
    c.page.wait_for_selector("#app:not([hidden])")
    # The code is gone from the address bar and the history entry.
    assert "#" not in c.page.url and code not in c.page.url
    assert c.page.evaluate("location.hash") == ""
    # Logged in as the user the link was made for, with their role.
    assert admin.user in c.page.locator("#who").inner_text() and "admin" in c.page.locator("#who").inner_text()
    assert c.page.locator('.tabs [data-view="admin"]').is_visible()
    token = c.page.evaluate("sessionStorage.getItem('depot.console.token')")
    assert token and requests.get(stack.base_url + "/api/v1/storage/quota", timeout=10,
                                  headers={"Authorization": "Bearer " + token}).status_code == 200
    c.screenshot("login-link")
    c.assert_clean(code, token)

    # The same link a second time: refused, with a message, and the login form.
    again = console()
    again.page.goto(url)
    again.notice("not valid: it was used already or has expired")
    assert again.page.locator("#login").is_visible()
    assert "#" not in again.page.url
    again.screenshot("login-link-used")

    time.sleep(0.5)
    text = logs(stack)
    assert code not in text and token not in text
    assert "console login" in text


def test_the_sessions_route_refuses_used_altered_and_malformed_codes(stack):
    member = Client(stack)
    member.get("/api/v1/storage/quota").raise_for_status()
    _, code = login_link(stack, member.user, member.org, "member", "--ttl", "60")
    route = stack.base_url + "/api/v1/console/sessions"
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
    for bad in (b"", b"not json", b'{"code": 1}', b'{"code": "x", "extra": 1}'):
        r = requests.post(route, data=bad, headers={"Content-Type": "application/json"}, timeout=10)
        assert r.status_code in (400, 401) and r.headers["Content-Type"].startswith("application/json"), (bad, r.text)
    big = requests.post(route, data=b'{"code": "' + b"a" * 100_000 + b'"}', headers={"Content-Type": "application/json"}, timeout=10)
    assert big.status_code == 413 and big.json()["error"]["code"]
    assert requests.get(route, timeout=10).status_code == 405


def test_depotctl_checks_its_arguments(stack):
    user, org = str(uuid.uuid4()), str(uuid.uuid4())
    done = run(stack, "token", "issue", "--console", "--user", user, "--org", org, "--login-ttl", "5")
    assert done.returncode != 0 and "--login-ttl" in done.stderr
    done = run(stack, "token", "issue", "--console", "--user", user, "--org", org)
    assert done.returncode == 0 and re.fullmatch(re.escape(stack.base_url) + r"/console/#login=[A-Za-z0-9_-]{64}\n", done.stdout)
