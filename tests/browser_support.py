"""Web pages in a real headless browser: Debian's chromium, driven by Playwright.

Fixtures (a plugin of tests/conftest.py):

- `browser` (module): one chromium for a test module, started from the system's binary
  (KIOSK_TEST_CHROMIUM, else `chromium` on PATH) — never a browser build of Playwright's own.
  A module, not the session: while Playwright's synchronous API is up it keeps its event loop
  marked running on the main thread, so `asyncio.run` there refuses ("cannot be called from a
  running event loop"); a session-wide browser would make that true for every test after the
  first page test. Starting it takes about 1.5 s, once per module;
- `page` (function): a fresh context (no cookies, no storage shared between tests) and a page
  in it, closed after the test; an uncaught error in a page's script fails the test;
- `serve` (function): serves an ASGI app with uvicorn on 127.0.0.1 (a free port) for the test,
  and answers its base URL.

Tests that use them are marked `browser`. Without chromium (or Playwright) they skip with the
reason on a developer's machine, but fail in CI (`CI=true`), where the test command installs
chromium: a page test that silently stopped running is a failure there, as an e2e skip is.

chromium runs headless (no display needed). Its sandbox is on, except as root, where chromium
refuses to start with one ("Running as root without --no-sandbox is not supported"): the
container's tests run as root, and the pages they load are the tests' own, on 127.0.0.1.

Pages that redirect (the OIDC authorization page sending the browser back to the online
service) are followed by the browser itself; `wait_for_url(page, url)` waits, bounded, until
the page has landed on a URL (a string with glob patterns, or a predicate), and fails with
where it is instead.
"""

from __future__ import annotations

import os
import shutil
import threading
from collections.abc import Callable, Iterator
from typing import Any, NoReturn

import pytest

from kiosk.pos.server import PosServer

#: How long a page may take to load or land on a URL, in milliseconds (bounded, never a sleep).
PAGE_TIMEOUT_MS = 15_000

_IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def chromium_path() -> str | None:
    """The system chromium to drive: KIOSK_TEST_CHROMIUM, else `chromium` on PATH."""
    configured = os.environ.get("KIOSK_TEST_CHROMIUM")
    if configured:
        return configured if os.access(configured, os.X_OK) else None
    return shutil.which("chromium")


def browser_unavailable(reason: str) -> NoReturn:
    """Skip (developer's machine) or fail (CI) a browser test that cannot run."""
    message = f"{reason}; `make test` installs Debian's chromium (packaging/setup/system-deps.sh)"
    if _IN_CI:
        pytest.fail(f"browser test cannot run in CI: {message}", pytrace=False)
    pytest.skip(message)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Debian's chromium, headless, for the test module (see the module's docstring)."""
    executable = chromium_path()
    if executable is None:
        browser_unavailable("chromium is not installed")
    try:
        from playwright.sync_api import Error, sync_playwright
    except ImportError:
        browser_unavailable("Playwright is not installed (pip install -e '.[dev]')")
    with sync_playwright() as playwright:
        try:
            launched = playwright.chromium.launch(
                executable_path=executable,
                headless=True,
                chromium_sandbox=os.geteuid() != 0,
                timeout=PAGE_TIMEOUT_MS,
            )
        except Error as e:
            browser_unavailable(f"chromium at {executable} does not start: {e.message}")
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    """A page in a fresh browser context (its own cookies), closed after the test; an error a
    page's script throws and nobody catches fails the test (as a Qt warning fails a UI test)."""
    context = browser.new_context()
    context.set_default_timeout(PAGE_TIMEOUT_MS)
    context.set_default_navigation_timeout(PAGE_TIMEOUT_MS)
    opened = context.new_page()
    script_errors: list[str] = []
    opened.on("pageerror", lambda error: script_errors.append(f"{error.name}: {error.message}"))
    try:
        yield opened
    finally:
        context.close()
    if script_errors:
        pytest.fail(f"a page's script failed: {'; '.join(script_errors)}", pytrace=False)


@pytest.fixture
def serve() -> Iterator[Callable[[Any], str]]:
    """`serve(app)` serves an ASGI app on 127.0.0.1 until the test ends; answers its base URL."""
    servers: list[PosServer] = []

    def start(app: Any) -> str:
        server = PosServer(app, "127.0.0.1", 0)
        server.start()
        servers.append(server)
        return f"http://127.0.0.1:{server.port}"

    try:
        yield start
    finally:
        # side by side: each stop waits out a tick of uvicorn's loop (about 0.2 s)
        stopping = [threading.Thread(target=server.stop) for server in servers]
        for thread in stopping:
            thread.start()
        for thread in stopping:
            thread.join()


def wait_for_url(page: Any, url: str | Callable[[str], bool]) -> None:
    """Wait until the browser has landed on `url` (glob pattern or predicate), following any
    redirects on the way; fails with the URL it is at when it does not get there."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    try:
        page.wait_for_url(url, timeout=PAGE_TIMEOUT_MS)
    except PlaywrightTimeout:
        pytest.fail(f"the browser did not land on {url!r}; it is at {page.url}", pytrace=False)
