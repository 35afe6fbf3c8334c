"""Run the real production server (gunicorn, several workers) on a loopback port for tests
and benchmarks, and talk to it with the standard library only."""
import http.cookiejar
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
GUNICORN = os.path.join(os.path.dirname(sys.executable), "gunicorn")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """gunicorn 'app:create_app()' with `workers` sync workers on a temp data folder."""

    def __init__(self, data_dir, workers=2, port=None, extra_env=None, secret_file=False):
        """secret_file: no TAIZHANG_SECRET_KEY; a random DATA_DIR/secret_key, as `make serve`
        writes on a new host (else every server shares one key from the environment)."""
        self.data_dir = str(data_dir)
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {**os.environ, "TAIZHANG_DATA_DIR": self.data_dir,
                    "TAIZHANG_SECRET_KEY": "server-test-secret", "TAIZHANG_BASE_URL": self.url,
                    "WEB_CONCURRENCY": str(workers),
                    # Load tests send hundreds of requests per link from one address, where a
                    # village sends a few: counted (the counters are under load too), never
                    # refused, unless a test sets its own limit.
                    "TAIZHANG_RATE_LIMIT_PUBLIC": "1000000 per minute",
                    "TAIZHANG_RATE_LIMIT_LOGIN": "1000000 per minute", **(extra_env or {})}
        if secret_file:
            del self.env["TAIZHANG_SECRET_KEY"]
            sys.path.insert(0, ROOT)
            import config

            config.write_secret_key(self.data_dir)
        self.process = None

    def flask(self, *args, input=None, check=True):
        return subprocess.run([sys.executable, "-m", "flask", "--app", "app", *args], cwd=ROOT,
                              env=self.env, input=input, capture_output=True, text=True,
                              check=check, timeout=120)

    def start(self, timeout=30, access_log=None):
        """Start gunicorn; access_log: a file where each request is logged as
        "<pid> status path" (which worker answered what)."""
        log_args = [] if access_log is None else [
            "--access-logfile", str(access_log), "--access-logformat", "%(p)s %(s)s %(U)s"]
        self.process = subprocess.Popen(
            [GUNICORN, "--bind", f"127.0.0.1:{self.port}", "--timeout", "300", *log_args,
             "app:create_app()"],
            cwd=ROOT,
            env=self.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(self.url + "/login", timeout=2):
                    return self
            except (urllib.error.URLError, ConnectionError, OSError):
                if self.process.poll() is not None:
                    raise RuntimeError("gunicorn exited while starting")
                time.sleep(0.1)
        raise RuntimeError("gunicorn did not start in time")

    def kill(self):
        """SIGKILL the master and every worker at once (a power cut, as far as files go)."""
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(10)

    def stop(self):
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.kill()


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


class Browser:
    """A browser with one cookie jar, talking to any number of hosts (cookies do not depend
    on the port, so two hosts on 127.0.0.1 behind "a load balancer" share them). Returns
    (status, headers, body text); never follows redirects."""

    def __init__(self):
        self.cookies = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(self.cookies), NoRedirect())

    def request(self, url, fields=None, files=None):
        data, headers = None, {}
        if files:
            boundary = uuid.uuid4().hex
            data = _multipart(boundary, fields or [], files)
            headers["Content-Type"] = f"multipart/form-data; boundary={boundary}"
        elif fields is not None:
            data = urllib.parse.urlencode(fields).encode()
        try:
            response = self.opener.open(urllib.request.Request(url, data, headers), timeout=60)
            return response.status, response.headers, response.read()
        except urllib.error.HTTPError as e:
            return e.code, e.headers, e.read()

    def get(self, url):
        return self.request(url)

    def post(self, url, fields, files=None):
        return self.request(url, fields, files)

    def csrf(self, url):
        """The CSRF token of the page at url (and the session cookie that goes with it)."""
        status, _, body = self.get(url)
        assert status == 200, (url, status)
        return re.search(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"',
                         body.decode()).group(1)

    def login(self, base_url, username, password):
        token = self.csrf(base_url + "/login")
        return self.post(base_url + "/login", [("csrf_token", token), ("username", username),
                                               ("password", password)])[0]


def _multipart(boundary, fields, files):
    """multipart/form-data: fields [(name, value)], files [(name, filename, bytes, type)]."""
    out = []
    for name, value in fields:
        out.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'
                   f"{value}\r\n".encode())
    for name, filename, data, content_type in files:
        out.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; '
                   f'filename="{filename}"\r\nContent-Type: {content_type}\r\n\r\n'.encode())
        out.append(data + b"\r\n")
    out.append(f"--{boundary}--\r\n".encode())
    return b"".join(out)


class Cadre:
    """One phone: a cookie jar, the form page's CSRF token, and POSTs of answers."""

    def __init__(self, entry_url):
        self.entry_url = entry_url
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()), NoRedirect())
        html = self.opener.open(entry_url, timeout=30).read().decode()
        self.csrf = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html).group(1)

    def submit(self, pairs, submission_id):
        """POST the form; returns (status, receipt or None)."""
        body = urllib.parse.urlencode(
            [("csrf_token", self.csrf), ("submission_id", submission_id), *pairs]).encode()
        try:
            response = self.opener.open(self.entry_url, data=body, timeout=60)
            status, location = response.status, None
        except urllib.error.HTTPError as e:
            status, location = e.code, e.headers.get("Location")
        receipt = location.rsplit("/", 1)[-1] if status == 303 and location else None
        return status, receipt
