"""The console's organization view for admins, in the real Chromium against
the real stack: usage per member and per workflow, the largest files, the
files shared with the whole organization; members never get it."""
import uuid

import requests

from conftest import Client
from console_browser import browser, console  # noqa: F401 - fixtures

KiB = 1024


def test_an_admin_sees_usage_per_member_and_workflow_largest_and_org_shared_files(console, stack):
    admin = Client(stack, role="admin")
    alice, bob = admin.colleague(), admin.colleague()
    names = {}
    for who, name, size in ((alice, "alice-big.bin", 300 * KiB), (alice, "alice-small.bin", 10 * KiB), (bob, "bob.bin", 50 * KiB)):
        r = who.upload(name, b"x" * size)
        assert r.status_code == 201, r.text
        names[name] = r.json()["object_name"]
    assert bob.upload("out.csv", b"y" * (20 * KiB), workflow_id=str(uuid.uuid4()), workflow_name="Nightly report", run_id=str(uuid.uuid4()),
                      direction="output").status_code == 201
    r = bob.post(f"/api/v1/storage/objects/{names['bob.bin']}/shares", json={"organization": True})
    assert r.status_code == 201, r.text
    admin.get("/api/v1/storage/quota").raise_for_status()

    c = console()
    c.login(admin.token)
    c.tab("Organization")
    page = c.page
    members = c.row("#members-table", alice.user)
    members.wait_for()
    assert "310 KiB" in members.inner_text()
    assert "\t70 KiB\t" in c.row("#members-table", bob.user).inner_text()
    # Largest first.
    assert alice.user in page.locator("#members-table tbody tr").first.inner_text()
    c.row("#workflows-table", "Nightly report").wait_for()
    assert page.locator("#largest-table tbody tr").first.inner_text().startswith("alice-big.bin")
    shared = page.locator("#orgshared-table tbody tr")
    assert shared.count() == 1 and "bob.bin" in shared.first.inner_text()
    page.wait_for_selector("#members-chart[data-rendered='true']")
    # The organization scope and its search are offered to admins.
    c.tab("Files")
    page.get_by_label("Show").select_option("organization")
    page.get_by_label("Name contains").fill("alice")
    page.get_by_role("button", name="Apply").click()
    page.locator("#files-page", has_text="2 files").wait_for()
    c.tab("Organization")
    c.screenshot("organization")
    c.assert_clean(admin.token)


def test_a_member_is_refused_the_organization_data(stack):
    member = Client(stack)
    r = member.get("/api/v1/storage/members")
    assert r.status_code == 403
    assert requests.get(stack.base_url + "/api/v1/storage/members", timeout=10).status_code == 401
