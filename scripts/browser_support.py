"""What scripts/browser-test drives: headless Chromium over WebDriver, a static site for the web
client on its own origin, a TCP relay in front of the WebSocket that the test can cut, and the
test's own calls to the API."""

import base64
import functools
import http.server
import json
import os
import socket
import sys
import threading
import urllib.request
from pathlib import Path

from selenium import webdriver
from selenium.common.exceptions import StaleElementReferenceException, TimeoutException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.ui import Select, WebDriverWait

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
WAIT = 15  # seconds any expected change may take

# Reads the rendered list, so the test sees what a person sees.
TASKS_JS = """return [...document.querySelectorAll('#task-list .task')].map(li => ({
  id: li.dataset.id,
  title: li.querySelector('.task-title').textContent,
  status: li.querySelector('.status').textContent,
  description: li.querySelector('.task-description')?.textContent ?? '',
}));"""


def claims(token: str) -> dict:
    """A JWT's claims (read, not verified: the server verifies them)."""
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def rest(base: str, method: str, path: str, body=None, token=None):
    """One API call from the test itself (not the page): answers the decoded JSON."""
    request = urllib.request.Request(
        f"{base}/api/v1/{path}",
        method=method,
        data=None if body is None else json.dumps(body).encode(),
        headers={"content-type": "application/json"}
        | ({"authorization": f"Bearer {token}"} if token else {}),
    )
    with urllib.request.urlopen(request, timeout=10) as answer:
        text = answer.read()
    return json.loads(text) if text else None


def die(message: str) -> None:
    sys.exit(f"browser-test: {message}")


class Browser:
    """One headless Chromium; each `open` is a new window of it (same profile, own session)."""

    def __init__(self, work: Path):
        for path in (CHROMIUM, CHROMEDRIVER):
            if not os.access(path, os.X_OK):
                die(f"{path} is missing: run scripts/install-tools (Debian's chromium, chromium-driver)")
        # Never let selenium fetch a driver or a browser of its own.
        os.environ["SE_OFFLINE"] = "true"
        options = webdriver.ChromeOptions()
        options.binary_location = CHROMIUM
        for arg in (
            "--headless=new",
            "--no-sandbox",  # CI runs as root
            "--disable-dev-shm-usage",
            "--window-size=1000,1000",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-extensions",
            f"--user-data-dir={work / 'profile'}",
        ):
            options.add_argument(arg)
        options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
        self.log = work / "chromedriver.log"
        try:
            self.driver = webdriver.Chrome(
                options=options, service=Service(executable_path=CHROMEDRIVER, log_output=str(self.log))
            )
        except Exception as error:
            sys.stderr.write(self.log.read_text(errors="replace")[-3000:] if self.log.exists() else "")
            die(f"Chromium did not start: {error}")
        self.driver.set_page_load_timeout(WAIT)
        self.first = True

    def open(self, url: str) -> str:
        """Loads `url` in a new window (the first call uses the first one); answers its handle."""
        if not self.first:
            self.driver.switch_to.new_window("window")
        self.first = False
        self.driver.get(url)
        return self.driver.current_window_handle

    def switch(self, handle: str) -> None:
        self.driver.switch_to.window(handle)

    def js(self, script: str, *args):
        return self.driver.execute_script(script, *args)

    def wait(self, condition, what, timeout: float = WAIT):
        """Waits for `condition`; `what` names it in the failure, or is called then to name it."""
        def attempt(_):
            try:
                return condition()
            except StaleElementReferenceException:
                return False

        try:
            return WebDriverWait(self.driver, timeout, poll_frequency=0.1).until(attempt)
        except TimeoutException:
            raise AssertionError(f"timed out waiting for {what() if callable(what) else what}") from None

    def text(self, selector: str) -> str:
        return self.js("return document.querySelector(arguments[0]).textContent", selector)

    def wait_text(self, selector: str, text: str, exact: bool = False) -> None:
        """Waits until `selector` shows `text`: within its text, or all of it if `exact`."""
        found = (lambda: self.text(selector).strip() == text) if exact else (lambda: text in self.text(selector))
        self.wait(found, lambda: f"{text!r} in {selector} (it shows {self.text(selector)!r}; #error: {self.text('#error')!r})")

    def fill(self, form: str, **fields: str) -> None:
        for name, value in fields.items():
            field = self.driver.find_element(By.CSS_SELECTOR, f"{form} [name='{name}']")
            if field.tag_name == "select":
                Select(field).select_by_value(value)
            else:
                field.clear()
                field.send_keys(value)

    def submit(self, form: str) -> None:
        self.driver.find_element(By.CSS_SELECTOR, f"{form} button:not([type='button'])").click()

    def click(self, selector: str) -> None:
        # The list is redrawn when an event arrives: an element found just before may be gone by
        # the click, so find it again until the click lands.
        def clicked():
            self.driver.find_element(By.CSS_SELECTOR, selector).click()
            return True

        self.wait(clicked, f"a click on {selector}")

    def select(self, selector: str, value: str) -> None:
        Select(self.driver.find_element(By.CSS_SELECTOR, selector)).select_by_value(value)

    def form_values(self, form: str) -> dict:
        return self.js("return Object.fromEntries(new FormData(document.querySelector(arguments[0])))", form)

    def tasks(self) -> list[dict]:
        return self.js(TASKS_JS)

    def wait_task(self, title: str, **expected: str) -> dict:
        def found():
            return next(
                (t for t in self.tasks() if t["title"] == title and all(t[k] == v for k, v in expected.items())),
                None,
            )

        return self.wait(found, f"task {title!r} {expected} in the list (it shows {self.tasks()})")

    def click_task(self, task_id: str, action: str, confirm: bool = False) -> None:
        self.click(f"#task-list li[data-id='{task_id}'] button.{action}")
        if confirm:
            self.accept_confirm()

    def accept_confirm(self) -> None:
        """Answers OK to the page's `confirm()`."""
        WebDriverWait(self.driver, WAIT).until(expected_conditions.alert_is_present())
        self.driver.switch_to.alert.accept()

    def wait_dialog(self, open_: bool) -> None:
        self.wait(lambda: self.js("return document.querySelector('#editor').open") == open_, "the editor")

    def wait_live(self, timeout: float = WAIT) -> None:
        self.wait(lambda: self.text("#live-status") == "Live", "the live status", timeout)

    def connections(self) -> int:
        return int(self.js("return document.querySelector('#live-status').dataset.connections"))

    def access_token(self) -> str:
        return self.js("return JSON.parse(sessionStorage.getItem('taskmaster.session')).access")

    def screenshot(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.js("document.activeElement?.blur(); window.scrollTo(0, 0)")
        if not self.driver.save_screenshot(str(path)):
            die(f"could not save a screenshot to {path}")
        print(f"browser-test: screenshot saved to {path}")

    def dump(self, work: Path) -> None:
        """On failure: where the page stood, and the browser's console."""
        try:
            sys.stderr.write(f"\nbrowser-test: page {self.driver.current_url}: #error {self.text('#error')!r}\n")
            for entry in self.driver.get_log("browser"):
                sys.stderr.write(f"  console: {entry['message']}\n")
        except Exception as error:
            sys.stderr.write(f"(no page state: {error})\n")

    def quit(self) -> None:
        self.driver.quit()


class StaticSite:
    """local/web/ over plain HTTP on a free port: the client on an origin of its own."""

    class Handler(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    def __init__(self, root: Path):
        handler = functools.partial(self.Handler, directory=str(root))
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class Relay:
    """A TCP relay to the server that can drop every connection and refuse new ones for a while,
    as a network or API Gateway would."""

    def __init__(self, target: str):
        host, port = target.removeprefix("http://").split(":")
        self.target = (host, int(port))
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"ws://127.0.0.1:{self.listener.getsockname()[1]}"
        self.open = threading.Event()
        self.open.set()
        self.lock = threading.Lock()
        self.sockets: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            if not self.open.is_set():
                client.close()
                continue
            try:
                upstream = socket.create_connection(self.target)
            except OSError:
                # The server is away (a restart): this connection fails, as it would through a
                # real network, and the relay goes on accepting the next ones.
                client.close()
                continue
            with self.lock:
                self.sockets += [client, upstream]
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(source, sink), daemon=True).start()

    @staticmethod
    def _pipe(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        for s in (source, sink):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()

    def cut_and_refuse(self) -> None:
        """Drops every relayed connection; new ones are closed at once until `accept`."""
        self.open.clear()
        with self.lock:
            for s in self.sockets:
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
            self.sockets.clear()

    def accept(self) -> None:
        self.open.set()

    def close(self) -> None:
        self.listener.close()
        self.cut_and_refuse()
