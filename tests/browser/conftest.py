"""The browser harness: Debian's headless Chromium driven by Playwright (sync API) against the real
app served on a loopback port (the `live_server` fixture), one browser for the whole test session
and a fresh browser context (cookies, storage) for every test."""
from __future__ import annotations

from pathlib import Path

import pytest
import requests

from tests.conftest import OWNER_EMAIL, OWNER_PASSWORD, PUBLIC_URL, twilio_signature

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
PHONE_VIEWPORT = {"width": 390, "height": 844}


@pytest.fixture(scope="session")
def browser():
    if not CHROMIUM.exists():
        pytest.skip(f"browser tests need Debian's Chromium at {CHROMIUM} (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def open_page(browser, live_server):
    """Open a page in a new browser context at the live server; `viewport` sets its size."""
    contexts = []

    def open_(viewport: dict | None = None):
        context = browser.new_context(base_url=live_server, viewport=viewport)
        contexts.append(context)
        return context.new_page()

    yield open_
    for context in contexts:
        context.close()


@pytest.fixture
def page(open_page):
    return open_page()


@pytest.fixture
def text_from_shopper(live_server):
    """A shopper's text, POSTed to the live server's webhook with Twilio's signature; returns the TwiML."""
    http = requests.Session()
    http.trust_env = False  # loopback only: no proxy from the environment
    sids = iter(range(1, 10**6))

    def send(body: str, *, sender: str = "+14155550100", to: str = "+14155550000") -> str:
        form = {"MessageSid": f"SMbrowser{next(sids):025d}", "From": sender, "To": to, "Body": body}
        signature = twilio_signature(PUBLIC_URL + "/sms/inbound", form)
        response = http.post(
            f"{live_server}/sms/inbound", data=form, headers={"X-Twilio-Signature": signature}, timeout=30
        )
        assert response.status_code == 200, response.text
        return response.text

    yield send
    http.close()


def sign_in(page, email: str = OWNER_EMAIL, password: str = OWNER_PASSWORD) -> None:
    """Fill in and send the sign-in form on the page that is open."""
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
