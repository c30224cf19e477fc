"""The real Chromium (Debian's `chromium`) driven by Playwright, for the
console's tests: one browser per test module, one context per user, every
page watched for script errors and Content-Security-Policy violations, and a
screenshot of each test saved under .build/console-screenshots/."""
import os
import re
import shutil

import pytest

sync_api = pytest.importorskip("playwright.sync_api")

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SCREENSHOTS = os.environ.get("DEPOT_SCREENSHOT_DIR", os.path.join(REPO, ".build", "console-screenshots"))

# Runs in every page before its own scripts: records CSP violations, which
# would otherwise only reach the browser's console.
WATCH_CSP = """
window.__cspViolations = [];
document.addEventListener('securitypolicyviolation', (e) => {
  window.__cspViolations.push(e.violatedDirective + ' ' + e.blockedURI);
});
"""


def chromium_path():
    for name in ("chromium", "chromium-browser"):
        path = shutil.which(name)
        if path:
            return path
    return None


def launch(playwright):
    path = chromium_path()
    if path is None:
        pytest.skip("Chromium is not installed (apt-get install chromium; scripts/install-deps.sh does)")
    # --no-sandbox: the tests run as root, where Chromium's sandbox refuses to start.
    return playwright.chromium.launch(executable_path=path, args=["--no-sandbox", "--disable-gpu"])


class ConsolePage:
    """One user's console in its own browser context (its own sessionStorage)."""

    def __init__(self, browser, stack, width=1440, height=900):
        self.stack = stack
        self.context = browser.new_context(viewport={"width": width, "height": height}, accept_downloads=True)
        self.context.add_init_script(WATCH_CSP)
        self.page = self.context.new_page()
        self.errors = []
        self.requests = []
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.on("console", lambda m: m.type == "error" and "Content Security Policy" in m.text and self.errors.append(m.text))
        self.page.on("request", lambda r: self.requests.append(r))

    def open(self, fragment=""):
        response = self.page.goto(self.stack.base_url + "/console/" + fragment)
        assert response.status == 200
        return response

    def login(self, token):
        self.open()
        self.page.get_by_label("API token").fill(token)
        self.page.get_by_role("button", name="Log in").click()
        self.page.wait_for_selector("#app:not([hidden])")
        self.page.wait_for_selector("#files-page:has-text('Page')")

    def tab(self, name):
        self.page.locator(".tabs").get_by_role("button", name=name).click()

    def row(self, table, text):
        return self.page.locator(f"{table} tbody tr", has_text=text)

    def notice(self, pattern):
        self.page.locator("#notice", has_text=re.compile(pattern)).wait_for()

    def screenshot(self, name):
        os.makedirs(SCREENSHOTS, exist_ok=True)
        path = os.path.join(SCREENSHOTS, name + ".png")
        self.page.screenshot(path=path, full_page=True)
        assert os.path.getsize(path) > 0
        return path

    def assert_clean(self, *secrets):
        """No script error, no CSP violation, no Referer, and none of
        `secrets` in any URL the page requested or shows."""
        violations = self.page.evaluate("window.__cspViolations")
        assert violations == [], violations
        assert self.errors == [], self.errors
        for r in self.requests:
            assert "referer" not in {k.lower() for k in r.all_headers()}, (r.url, r.all_headers())
            for secret in secrets:
                assert secret not in r.url, r.url
        for secret in secrets:
            assert secret not in self.page.url
            assert self.page.evaluate("(s) => !JSON.stringify(localStorage).includes(s)", secret)

    def close(self):
        self.context.close()


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as p:
        b = launch(p)
        yield b
        b.close()


@pytest.fixture
def console(browser, stack):
    """Opens a user's console; every one is closed after the test."""
    opened = []

    def open_console(**kw):
        c = ConsolePage(browser, stack, **kw)
        opened.append(c)
        return c

    yield open_console
    for c in opened:
        c.close()
