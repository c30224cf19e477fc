"""The console (/console/) in the real Chromium against the real stack:
static pages from nginx under a strict CSP, talking only to the public API
with the user's token. Each test saves a screenshot (console_browser.py)."""
import hashlib
import os
import re

import pytest
import requests

from conftest import Client
from console_browser import browser, console  # noqa: F401 - fixtures

MiB = 1024 * 1024


def source_file(tmp_path, name, size):
    path = tmp_path / name
    data = os.urandom(size)
    path.write_bytes(data)
    return path, hashlib.sha256(data).hexdigest()


def files_named(client, name):
    r = client.get("/api/v1/storage/files", params={"page_size": 100})
    assert r.status_code == 200, r.text
    return [f for f in r.json()["files"] if f["original_filename"] == name]


def test_pages_come_from_nginx_under_a_strict_policy(stack):
    r = requests.get(stack.base_url + "/console/", timeout=10)
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("text/html")
    csp = r.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "default-src 'none'" in csp
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert r.headers["Referrer-Policy"] == "no-referrer"
    # Nothing inline that the policy would have to allow.
    assert re.search(r"<script(?![^>]*\bsrc=)[^>]*>", r.text) is None, "inline script"
    assert re.search(r"<[^>]+\s(on[a-z]+|style)\s*=", r.text) is None, "inline handler or style"
    assert "<style" not in r.text
    assert requests.get(stack.base_url + "/console", allow_redirects=False, timeout=10).headers["Location"].endswith("/console/")
    chart = requests.get(stack.base_url + "/console/vendor/chart.min.js", timeout=10)
    assert chart.status_code == 200 and "Chart" in chart.text[:5000]


def test_login_lists_searches_and_filters_files(console, stack):
    user = Client(stack)
    for name in ("Quarterly report.csv", "holiday.txt", "report-draft.txt"):
        assert user.upload(name, b"x" * 100).status_code == 201
    c = console()
    c.login(user.token)
    page = c.page
    for name in ("Quarterly report.csv", "holiday.txt", "report-draft.txt"):
        c.row("#files-table", name).wait_for()
    assert "3 files" in page.locator("#files-page").inner_text()
    # A member is offered no organization view, nor the organization scope.
    organization_tab = page.locator(".tabs button", has_text="Organization")
    organization_scope = page.locator("option[value='organization']")
    assert organization_tab.count() == 1 and organization_tab.is_hidden()
    assert organization_scope.count() == 1 and organization_scope.is_hidden()
    # The token lives in this tab's sessionStorage only, never in the URL.
    assert page.evaluate("sessionStorage.getItem('depot.console.token')") == user.token
    page.get_by_label("Name contains").fill("REPORT")
    page.get_by_role("button", name="Apply").click()
    page.locator("#files-page", has_text="2 files").wait_for()
    assert c.row("#files-table", "holiday.txt").count() == 0
    page.get_by_label("Sort by").select_option("original_filename")
    page.get_by_label("Order").select_option("asc")
    page.locator("#files-table tbody tr").first.filter(has_text="Quarterly").wait_for()
    c.screenshot("files-search")
    c.assert_clean(user.token)
    # Logging out forgets the token.
    page.get_by_role("button", name="Log out").click()
    page.get_by_label("API token").wait_for()
    assert page.evaluate("sessionStorage.length") == 0


def test_a_bad_token_is_refused_with_a_message(console):
    c = console()
    c.open()
    c.page.get_by_label("API token").fill("not-a-token")
    c.page.get_by_role("button", name="Log in").click()
    c.notice("not valid")
    assert c.page.locator("#app").is_hidden()
    c.screenshot("login-refused")


def test_upload_20_mib_by_drop_shows_progress_to_100_percent(console, stack, tmp_path):
    user = Client(stack)
    path, digest = source_file(tmp_path, "big.bin", 20 * MiB)
    c = console()
    c.login(user.token)
    c.tab("Upload")
    page = c.page
    # Every value the progress bar takes, as the user would see it.
    page.evaluate("""() => { window.__progress = [];
        new MutationObserver((ms) => ms.forEach((m) => { if (m.target.tagName === 'PROGRESS') window.__progress.push(m.target.value); }))
          .observe(document.querySelector('#uploads'), {subtree: true, attributes: true, attributeFilter: ['value']}); }""")
    # A real drag and drop: a DataTransfer carrying the file, dropped on the zone.
    data = path.read_bytes()
    page.evaluate("""([bytes, name]) => {
        const file = new File([Uint8Array.from(atob(bytes), (c) => c.charCodeAt(0))], name, {type: 'application/octet-stream'});
        const dt = new DataTransfer(); dt.items.add(file);
        const zone = document.querySelector('#drop-zone');
        zone.dispatchEvent(new DragEvent('dragover', {dataTransfer: dt, bubbles: true, cancelable: true}));
        zone.dispatchEvent(new DragEvent('drop', {dataTransfer: dt, bubbles: true, cancelable: true}));
    }""", [__import__("base64").b64encode(data).decode(), "big.bin"])
    item = page.locator("#uploads li", has_text="big.bin")
    item.locator(".status", has_text="Uploaded as").wait_for(timeout=120_000)
    values = page.evaluate("window.__progress")
    assert values[-1] == 100 and any(0 < v < 100 for v in values), values
    assert values == sorted(values)
    assert item.locator(".percent").inner_text() == "100 %"
    c.screenshot("upload-done")
    [record] = files_named(user, "big.bin")
    assert record["sha256"] == digest and record["size"] == 20 * MiB
    c.assert_clean(user.token)


def test_an_interrupted_upload_resumes_where_it_stopped(console, stack, tmp_path):
    user = Client(stack)
    path, digest = source_file(tmp_path, "resume.bin", 20 * MiB)
    c = console()
    c.login(user.token)
    c.tab("Upload")
    page = c.page
    patches = []

    def drop_the_second_chunk(route):
        request = route.request
        if request.method == "PATCH":
            patches.append(request.headers.get("upload-offset"))
            if len(patches) == 2:
                return route.abort("connectionreset")
        return route.continue_()

    page.route(re.compile(r".*/api/v1/storage/uploads/[^/?]+$"), drop_the_second_chunk)
    page.get_by_label("Choose files").set_input_files(str(path))
    item = page.locator("#uploads li", has_text="resume.bin")
    item.locator(".status", has_text="Uploaded as").wait_for(timeout=120_000)
    # The lost chunk was sent again from the offset the server acknowledged.
    assert patches[1] == patches[2] != "0", patches
    [record] = files_named(user, "resume.bin")
    assert record["sha256"] == digest
    c.screenshot("upload-resumed")
    c.assert_clean(user.token)


def test_dropping_the_same_file_after_a_reload_resumes_it(console, stack, tmp_path):
    user = Client(stack)
    path, digest = source_file(tmp_path, "again.bin", 20 * MiB)
    c = console()
    c.login(user.token)
    c.tab("Upload")
    page = c.page
    sent = []

    def only_one_chunk(route):
        if route.request.method == "PATCH":
            sent.append(route.request.headers.get("upload-offset"))
            if len(sent) > 1:
                return route.abort("connectionreset")
        return route.continue_()

    page.route(re.compile(r".*/api/v1/storage/uploads/[^/?]+$"), only_one_chunk)
    page.get_by_label("Choose files").set_input_files(str(path))
    page.locator("#uploads li .status", has_text="Connection lost").wait_for(timeout=60_000)
    # The tab is reloaded (the connection never came back); the user drops the file again.
    page.unroute(re.compile(r".*/api/v1/storage/uploads/[^/?]+$"))
    page.reload()
    page.wait_for_selector("#app:not([hidden])")
    c.tab("Upload")
    page.get_by_label("Choose files").set_input_files(str(path))
    item = page.locator("#uploads li", has_text="again.bin")
    item.locator(".status", has_text="Uploaded as").wait_for(timeout=120_000)
    [record] = files_named(user, "again.bin")
    assert record["sha256"] == digest
    # One resumable upload was made, not two: the second drop found it.
    creations = [r for r in c.requests if r.method == "POST" and r.url.endswith("/api/v1/storage/uploads")]
    assert len(creations) == 1
    assert any(r.method == "HEAD" for r in c.requests)
    c.screenshot("upload-resumed-after-reload")
    c.assert_clean(user.token)
