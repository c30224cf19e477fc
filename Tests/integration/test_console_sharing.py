"""The console's file actions in the real Chromium against the real stack:
download, share with a member who then sees the file in their own console,
revoke, delete, download links, and the layout at 360 and 1440 px."""
import hashlib
import os
import re

import requests
from playwright.sync_api import expect

from conftest import Client, set_plan
from console_browser import browser, console  # noqa: F401 - fixtures


def uploaded(client, name, data):
    r = client.upload(name, data)
    assert r.status_code == 201, r.text
    return r.json()


def test_download_gives_the_exact_bytes(console, stack, tmp_path):
    user = Client(stack)
    data = os.urandom(3 * 1024 * 1024 + 17)
    uploaded(user, "Résumé (final).pdf", data)
    c = console()
    c.login(user.token)
    with c.page.expect_download() as info:
        c.page.get_by_role("button", name="Download Résumé (final).pdf").click()
    download = info.value
    assert download.suggested_filename == "Résumé (final).pdf"
    target = tmp_path / "got.pdf"
    download.save_as(target)
    assert hashlib.sha256(target.read_bytes()).hexdigest() == hashlib.sha256(data).hexdigest()
    c.screenshot("download")
    c.assert_clean(user.token)


def test_share_with_a_member_who_sees_it_then_revoke_and_delete(console, stack):
    owner = Client(stack)
    member = owner.colleague()
    member.get("/api/v1/storage/quota").raise_for_status()
    file = uploaded(owner, "team-plan.txt", b"the plan\n")

    mine = console()
    mine.login(owner.token)
    page = mine.page
    page.get_by_role("button", name="Share team-plan.txt").click()
    dialog = page.locator("#share-dialog")
    dialog.get_by_label("Member's user id").fill(member.user)
    dialog.get_by_role("button", name="Share", exact=True).click()
    dialog.locator("#share-list", has_text=member.user).wait_for()
    mine.screenshot("share-dialog")
    dialog.get_by_role("button", name="Close").click()

    theirs = console()
    theirs.login(member.token)
    theirs.page.get_by_label("Show").select_option("shared")
    theirs.row("#files-table", "team-plan.txt").wait_for()
    # A grantee may download but never delete, share or link.
    shared_row = theirs.row("#files-table", "team-plan.txt")
    assert shared_row.get_by_role("button", name="Download team-plan.txt").is_visible()
    assert shared_row.get_by_role("button", name="Delete team-plan.txt").count() == 0
    with theirs.page.expect_download() as info:
        shared_row.get_by_role("button", name="Download team-plan.txt").click()
    assert open(info.value.path(), "rb").read() == b"the plan\n"
    theirs.screenshot("shared-with-member")

    # The owner revokes; the member's next listing no longer has it.
    page.reload()
    page.get_by_role("button", name="Share team-plan.txt").click()
    dialog.get_by_role("button", name=f"Revoke share with Member {member.user}").click()
    dialog.locator("#share-list", has_text="Not shared.").wait_for()
    dialog.get_by_role("button", name="Close").click()
    theirs.page.get_by_role("button", name="Apply").click()
    theirs.page.locator("#files-empty").wait_for()
    assert theirs.row("#files-table", "team-plan.txt").count() == 0

    # Delete, after the browser's confirmation.
    page.once("dialog", lambda d: d.accept())
    page.get_by_role("button", name="Delete team-plan.txt").click()
    mine.notice("Deleted team-plan.txt")
    assert mine.row("#files-table", "team-plan.txt").count() == 0
    r = owner.get(f"/api/v1/storage/objects/{file['object_name']}/metadata")
    assert r.status_code == 404
    mine.assert_clean(owner.token)
    theirs.assert_clean(member.token)


def test_share_with_the_whole_organization(console, stack):
    owner = Client(stack)
    member = owner.colleague()
    member.get("/api/v1/storage/quota").raise_for_status()
    uploaded(owner, "handbook.txt", b"welcome\n")
    c = console()
    c.login(owner.token)
    c.page.get_by_role("button", name="Share handbook.txt").click()
    dialog = c.page.locator("#share-dialog")
    dialog.get_by_label("The whole organization").check()
    dialog.get_by_role("button", name="Share", exact=True).click()
    dialog.locator("#share-list", has_text="The whole organization").wait_for()
    r = member.get("/api/v1/storage/files", params={"scope": "shared"})
    assert [f["original_filename"] for f in r.json()["files"]] == ["handbook.txt"]
    c.assert_clean(owner.token)


def test_links_are_made_listed_and_revoked(console, stack):
    user = Client(stack)
    uploaded(user, "brochure.pdf", b"%PDF-1.4 brochure\n")
    c = console()
    c.login(user.token)
    page = c.page
    page.get_by_role("button", name="Link to brochure.pdf").click()
    dialog = page.locator("#link-dialog")
    dialog.get_by_label("Valid for").select_option("86400")
    dialog.get_by_role("button", name="Create link").click()
    url_box = dialog.locator("#link-url")
    expect(url_box).to_have_value(re.compile("^http"))
    url = url_box.input_value()
    assert requests.get(url, timeout=10).content == b"%PDF-1.4 brochure\n"
    dialog.get_by_role("button", name="Close").click()

    c.tab("Links")
    c.row("#links-table", "brochure.pdf").wait_for()
    c.screenshot("links")
    page.get_by_role("button", name="Revoke link to brochure.pdf").click()
    c.notice("revoked")
    page.locator("#links-empty").wait_for()
    assert requests.get(url, timeout=10).status_code == 404
    # The signed URL was shown to the user, never put in the page's own URL.
    c.assert_clean(user.token, url.split("signature=")[1])


def test_usage_gauge_shows_crossed_quota_thresholds_and_the_category_chart(console, stack):
    user = Client(stack)
    user.get("/api/v1/storage/quota").raise_for_status()
    set_plan(stack, user.org, "tiny")   # 1 MiB quota
    for part in ("a", "b"):   # 2 x 450 KiB: 88 % of it (the plan's largest file is 512 KiB)
        uploaded(user, f"data-{part}.csv", b"a,b\n" * (450 * 1024 // 4))
    c = console()
    c.login(user.token)
    c.tab("Usage")
    page = c.page
    page.locator("#usage-label", has_text="Storage used").wait_for()
    page.locator("#category-table tbody tr", has_text="General").wait_for()
    # Chart.js (Debian's libjs-chart.js) drew under the CSP.
    page.wait_for_selector("#category-chart[data-rendered='true']")
    assert float(page.locator("#usage-meter").get_attribute("value")) > 85
    assert page.locator(".thresholds li.crossed").all_inner_texts() == ["80 %"]
    assert page.locator(".thresholds li[data-threshold='95']").get_attribute("aria-label") == "95 %: not reached"
    c.screenshot("usage")
    c.assert_clean(user.token)


def test_readable_at_360_and_1440_px_and_every_control_has_a_name(console, stack):
    user = Client(stack)
    uploaded(user, "a-file-with-a-rather-long-name-that-must-wrap-on-a-phone.csv", b"x\n")
    for width in (360, 1440):
        c = console(width=width, height=800)
        c.login(user.token)
        for view in ("Files", "Upload", "Links", "Usage"):
            c.tab(view)
            c.page.wait_for_timeout(100)
            overflow = c.page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
            assert overflow <= 0, f"{view} scrolls sideways at {width} px"
            c.screenshot(f"{view.lower()}-{width}")
        unnamed = c.page.evaluate("""() => [...document.querySelectorAll('input, select, textarea, button')]
            .filter((e) => !e.closest('[hidden]') && e.type !== 'hidden')
            .filter((e) => !(e.labels && e.labels.length) && !e.getAttribute('aria-label') && !e.textContent.trim())
            .map((e) => e.outerHTML)""")
        assert unnamed == []
        c.assert_clean(user.token)


def test_the_keyboard_alone_logs_in_and_changes_views(console, stack):
    user = Client(stack)
    c = console()
    c.open()
    page = c.page
    page.get_by_label("API token").wait_for()
    # The login form takes the focus; Tab reaches its button, Enter submits.
    assert page.evaluate("document.activeElement.id") == "token-input"
    page.keyboard.insert_text(user.token)
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Log in"
    page.keyboard.press("Enter")
    page.wait_for_selector("#app:not([hidden])")
    # The section buttons follow the header's: Tab to "Upload", Enter shows it.
    page.locator(".tabs button", has_text="Files").focus()
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Upload"
    page.keyboard.press("Enter")
    page.locator("#view-upload").wait_for()
    assert page.locator("#view-files").is_hidden()
    c.assert_clean(user.token)
