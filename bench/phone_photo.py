"""A cadre's phone on a rural link: open a QR link, fill the form, attach a 4,000 x 3,000 camera
photo (~4.5 MB JPEG), press 提交 and wait for the receipt - measured the way the user meets it.

What it does, independent of how the public form is implemented (plain multipart POST, photo
uploaded as soon as it is picked, shrunk on the phone, fetch, ...):

  * starts the app of --source DIR (default: the repo this script lives in) as the production
    server does (gunicorn 'app:create_app()', WEB_CONCURRENCY sync workers, --timeout 300,
    cwd=DIR, this Python's venv) on a fresh temp data folder: `flask --app app init` (built-in
    forms, demo organizations), `flask --app app links FORM` for a public link of a village;
    FORM is the built-in form with exactly one photo field (public_demand) or the first one
    with a photo; if none has one, a tiny schema with a photo is installed (`load-form`);
  * puts a counting TCP proxy in front of it: the browser talks only to the proxy, which counts
    the bytes client -> server and server -> client (HTTP headers and bodies, i.e. TCP payload)
    of every connection: real traffic, whatever requests the page makes;
  * makes a realistic photo with Pillow: 4000 x 3000, gradients, shapes and sensor-like noise,
    JPEG quality 95, ~4.5 MB, EXIF Orientation 6 (a portrait shot, as phones store it) and a
    camera make/model; every run gets a different photo (no content-addressed deduplication);
  * drives Debian's Chromium (/usr/bin/chromium, never a downloaded browser) headless through
    Playwright as a cheap phone in WeChat: viewport 360 x 740, touch, zh-CN, a MicroMessenger
    user agent, and CDP Network.emulateNetworkConditions: --latency-ms (400) and --kbps (50,
    KB/s = 50 * 1024 bytes/s, down and up);
  * opens the link, fills every required (visible) field from the form's schema (text "测试"
    up to min_length, numbers "1", dates 2026-12-01, months 2026-12, phone 13800138000, first
    choice, boxes ticked), picks the photo with set_input_files in the field's place, waits
    --think-s (0: a page that sends the photo when it is picked gets no head start), presses
    提交 and waits (up to 300 s) until the receipt shows ([data-receipt] or the text 提交成功);
  * reports: bytes sent and received by the browser from the first navigation to the receipt
    page's load event, connections, seconds from pressing 提交 to the receipt and from opening
    the link to the receipt, and the photo as the server stored it (the largest new image file
    under the data folder: its bytes, pixel size, EXIF orientation).

The upload is throttled by Chromium as it streams (the proxy sees the body arrive over the whole
upload) and, with no nginx in front, holds one gunicorn sync worker meanwhile.

Only loopback traffic (127.0.0.1); every wait is bounded. One run takes about
(photo bytes / (kbps * 1024)) seconds plus the page loads: ~95 s for the original photo at
50 KB/s.

    .venv/bin/python bench/phone_photo.py [--source DIR] [--latency-ms 400] [--kbps 50]
                                          [--runs 1] [--json] [--think-s 0] [--form ID]
                                          [--workers 2] [--keep]

Example, the current commit against a checkout of an older one:

    git worktree add /tmp/before HEAD~3
    .venv/bin/python bench/phone_photo.py --source /tmp/before
"""
import argparse
import asyncio
import io
import json
import math
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PY = sys.executable
GUNICORN = os.path.join(os.path.dirname(PY), "gunicorn")
CHROMIUM = "/usr/bin/chromium"
SECRET_KEY = "bench-secret-key-not-for-production"

PHOTO_SIZE = (4000, 3000)
PHOTO_TARGET_BYTES = 4_500_000
RECEIPT_TIMEOUT_S = 300
PAGE_TIMEOUT_S = 120
WECHAT_UA = ("Mozilla/5.0 (Linux; Android 10; V2001A Build/QP1A.190711.020; wv) "
             "AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 Chrome/107.0.5304.141 "
             "Mobile Safari/537.36 XWEB/5023 MMWEBSDK/20230701 MMWEBID/2585 "
             "MicroMessenger/8.0.40.2420(0x28002837) WeChat/arm64 Weixin NetType/4G "
             "Language/zh_CN ABI/arm64")
# Preferred form: one photo field and a handful of simple fields.
PREFERRED_FORMS = ("public_demand", "monthly_report", "acceptance")
FALLBACK_SCHEMA = {
    "id": "bench_photo", "title": "现场照片上报(基准测试)", "stage": "测试",
    "fields": [
        {"name": "title", "type": "text", "label": "事项", "required": True, "max_length": 40},
        {"name": "photo", "type": "image", "label": "现场照片"},
        {"name": "report_date", "type": "date", "label": "日期", "required": True},
    ],
}


def log(*parts):
    print(time.strftime("%H:%M:%S"), *parts, file=sys.stderr, flush=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ---------------------------------------------------------------- the photo

def make_photo(path, seed, target=PHOTO_TARGET_BYTES):
    """A camera-like JPEG: 4000 x 3000, gradients, shapes, per-channel noise, quality 95, EXIF
    orientation 6. The noise level is adjusted (at most 4 encodes) to land near `target`."""
    from PIL import Image, ImageChops, ImageDraw, ImageFilter

    rng = random.Random(seed)
    width, height = PHOTO_SIZE
    base = Image.merge("RGB", (Image.linear_gradient("L").resize(PHOTO_SIZE),
                               Image.radial_gradient("L").resize(PHOTO_SIZE),
                               Image.linear_gradient("L").rotate(90).resize(PHOTO_SIZE)))
    draw = ImageDraw.Draw(base)
    for _ in range(300):  # fields, walls, roofs, trees
        x, y = rng.randrange(width), rng.randrange(height)
        w, h = rng.randrange(20, 600), rng.randrange(20, 400)
        color = tuple(rng.randrange(256) for _ in range(3))
        shape = draw.ellipse if rng.random() < 0.5 else draw.rectangle
        shape((x, y, x + w, y + h), fill=color)
    base = base.filter(ImageFilter.GaussianBlur(2))
    exif = Image.Exif()
    exif[0x0112] = 6  # Orientation: rotate 90 CW to display (a portrait shot)
    exif[0x010F] = "HUAWEI"  # Make
    exif[0x0110] = "BenchPhone"  # Model
    sigma, data = 6.0, b""
    for _ in range(4):
        noise = Image.merge("RGB", [Image.effect_noise(PHOTO_SIZE, sigma) for _ in range(3)])
        image = ImageChops.add(base, noise, scale=1.0, offset=-128)
        out = io.BytesIO()
        image.save(out, "JPEG", quality=95, exif=exif)
        data = out.getvalue()
        if abs(len(data) - target) <= target * 0.04:
            break
        # the size grows roughly linearly with sigma around 4..12 (~0.5 MB per unit)
        sigma = max(1.0, sigma + (target - len(data)) / 500_000)
    with open(path, "wb") as f:
        f.write(data)
    return len(data)


def describe_image(path):
    """(bytes, "WxH", format, EXIF orientation or None) of an image file, None if not one."""
    from PIL import Image

    try:
        with Image.open(path) as image:
            orientation = image.getexif().get(0x0112)
            return {"bytes": os.path.getsize(path), "width": image.width,
                    "height": image.height, "format": image.format,
                    "exif_orientation": orientation}
    except Exception:  # not an image (the database, the secret key, ...)
        return None


# ---------------------------------------------------------------- the counting proxy

class CountingProxy:
    """A TCP proxy 127.0.0.1:port -> 127.0.0.1:target_port on its own asyncio thread. Counts
    the bytes of each connection in both directions and keeps the first line the client sent
    (the request line: gunicorn's sync workers close the connection after each response, so
    a connection is one request)."""

    def __init__(self, target_port):
        self.target_port = target_port
        self.port = free_port()
        self.connections = []  # dicts: opened, first_line, up, down, closed
        self.loop = asyncio.new_event_loop()
        self.server = None
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.ready = threading.Event()

    def _run(self):
        asyncio.set_event_loop(self.loop)
        self.server = self.loop.run_until_complete(
            asyncio.start_server(self._handle, "127.0.0.1", self.port))
        self.ready.set()
        self.loop.run_forever()

    async def _pump(self, reader, writer, record, key):
        try:
            while True:
                chunk = await reader.read(65536)
                if not chunk:
                    break
                if key == "up" and record["first_line"] is None:
                    record["first_line"] = chunk.split(b"\r\n", 1)[0][:200].decode(
                        "latin-1", "replace")
                record[key] += len(chunk)
                record["first_" + key] = record["first_" + key] or time.perf_counter()
                record["last_" + key] = time.perf_counter()
                writer.write(chunk)
                await writer.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            try:
                if writer.can_write_eof():
                    writer.write_eof()
            except (ConnectionError, OSError, RuntimeError):
                pass

    async def _handle(self, client_reader, client_writer):
        record = {"opened": time.perf_counter(), "first_line": None, "up": 0, "down": 0,
                  "first_up": None, "last_up": None, "first_down": None, "last_down": None,
                  "closed": None}
        self.connections.append(record)
        try:
            server_reader, server_writer = await asyncio.open_connection(
                "127.0.0.1", self.target_port)
        except OSError:
            client_writer.close()
            record["closed"] = time.perf_counter()
            return
        await asyncio.gather(self._pump(client_reader, server_writer, record, "up"),
                             self._pump(server_reader, client_writer, record, "down"))
        for writer in (client_writer, server_writer):
            writer.close()
        record["closed"] = time.perf_counter()

    def start(self):
        self.thread.start()
        if not self.ready.wait(10):
            raise RuntimeError("the counting proxy did not start")
        return self

    def mark(self):
        """The index of the next connection: connections from here on belong to a run."""
        return len(self.connections)

    def since(self, mark):
        rows = [dict(r) for r in self.connections[mark:]]
        return {"bytes_sent": sum(r["up"] for r in rows),
                "bytes_received": sum(r["down"] for r in rows),
                "connections": len(rows), "requests": rows}

    def stop(self):
        def shutdown():
            self.server.close()
            self.loop.stop()
        if self.server is not None:
            self.loop.call_soon_threadsafe(shutdown)
            self.thread.join(10)


# ---------------------------------------------------------------- the server of --source

class App:
    """The app of a source folder: its flask CLI and gunicorn, on a temp data folder, with
    links made for the proxy's address."""

    def __init__(self, source, data_dir, workers, public_url, port):
        self.source = source
        self.data_dir = data_dir
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        env = {**os.environ, "TAIZHANG_DATA_DIR": data_dir, "TAIZHANG_SECRET_KEY": SECRET_KEY,
               "TAIZHANG_BASE_URL": public_url, "WEB_CONCURRENCY": str(workers),
               "PYTHONPATH": source, "PYTHONDONTWRITEBYTECODE": "1"}
        for name in ("FLASK_DEBUG", "TAIZHANG_DATABASE_URL", "TAIZHANG_PHOTOS_DIR",
                     "TAIZHANG_PROXIES", "TAIZHANG_SECURE_COOKIES"):
            env.pop(name, None)  # the embedded TinyDB file, photos in DATA_DIR/uploads
        self.env = env
        self.process = None
        self.log_path = os.path.join(os.path.dirname(data_dir), "gunicorn.log")

    def flask(self, *args, timeout=300):
        done = subprocess.run([PY, "-m", "flask", "--app", "app", *args], cwd=self.source,
                              env=self.env, capture_output=True, text=True, timeout=timeout)
        if done.returncode != 0:
            raise RuntimeError(f"flask {' '.join(args)} failed ({done.returncode}):\n"
                               f"{done.stdout}\n{done.stderr[-3000:]}")
        return done.stdout

    def start(self, timeout=60):
        log_file = open(self.log_path, "wb")
        self.process = subprocess.Popen(
            [GUNICORN, "--bind", f"127.0.0.1:{self.port}", "--timeout", "300",
             "--access-logfile", "-", "app:create_app()"],
            cwd=self.source, env=self.env, stdout=log_file, stderr=subprocess.STDOUT,
            start_new_session=True)
        log_file.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(self.url + "/login", timeout=10) as response:
                    if response.status == 200:
                        return self
            except (urllib.error.URLError, ConnectionError, OSError):
                if self.process.poll() is not None:
                    raise RuntimeError("gunicorn exited while starting:\n" + self.log_tail())
                time.sleep(0.1)
        self.stop()
        raise RuntimeError("gunicorn did not answer in time:\n" + self.log_tail())

    def log_tail(self, chars=3000):
        try:
            with open(self.log_path, encoding="utf-8", errors="replace") as f:
                return f.read()[-chars:]
        except OSError:
            return ""

    def stop(self):
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(10)


def has_photo(schema):
    """Whether the schema has a photo field at the top level (not only inside repeat rows)."""
    return any(spec.get("type") == "image" for spec in schema.get("fields", []))


def pick_form(app, wanted, tmp):
    """(form id, schema) of the form to fill: --form, else a built-in form with a top-level
    photo field (PREFERRED_FORMS first), else FALLBACK_SCHEMA installed with `load-form`."""
    folder = os.path.join(app.source, "schemas")
    schemas = {}
    for name in sorted(os.listdir(folder)):
        if name.endswith(".json") and name != "meta.schema.json":
            with open(os.path.join(folder, name), encoding="utf-8") as f:
                schema = json.load(f)
            if isinstance(schema, dict) and "id" in schema:
                schemas[schema["id"]] = schema
    if wanted:
        if wanted not in schemas:
            raise SystemExit(f"--form {wanted}: no schemas/{wanted}.json in {app.source}")
        return wanted, schemas[wanted]
    for form_id in [*PREFERRED_FORMS, *schemas]:
        if form_id in schemas and has_photo(schemas[form_id]):
            return form_id, schemas[form_id]
    path = os.path.join(tmp, "bench_photo.json")
    with open(path, "w", encoding="utf-8") as f:
        json.dump(FALLBACK_SCHEMA, f, ensure_ascii=False)
    app.flask("load-form", path)
    return FALLBACK_SCHEMA["id"], FALLBACK_SCHEMA


def village_link(app, form_id):
    """The public URL of the form for one village (the first organization named …村)."""
    rows = [line.split("\t") for line in app.flask("links", form_id).splitlines()
            if line.count("\t") == 2]
    if not rows:
        raise RuntimeError(f"`flask links {form_id}` printed no link")
    villages = [r for r in rows if r[1].endswith("村")]
    code, name, url = (villages or rows)[0]
    return code, name, url.strip()


# ---------------------------------------------------------------- filling the form

def text_value(spec):
    need = max(int(spec.get("min_length", 0) or 0), 2)
    value = ("测试" * math.ceil(need / 2))[:max(need, 2)]
    if spec.get("max_length"):
        value = value[:int(spec["max_length"])]
    return value


def bounded(value, spec):
    """value, moved inside the spec's min/max (dates and months compare as text)."""
    if "min" in spec and str(value) < str(spec["min"]):
        return str(spec["min"])
    if "max" in spec and str(value) > str(spec["max"]):
        return str(spec["max"])
    return value


def typed_value(spec):
    kind = spec.get("type")
    if kind in ("integer", "number", "decimal"):
        low = spec.get("min")
        return str(low if low is not None and low > 1 else 1)
    if kind == "date":
        return bounded("2026-12-01", spec)
    if kind == "month":
        return bounded("2026-12", spec)
    if kind == "phone":
        return "13800138000"
    return text_value(spec)


def wrapper_visible(page, name, scope=None):
    """Whether the field's wrapper ([data-field=name]) is shown; True without a wrapper."""
    box = (scope or page).locator(f'[data-field="{name}"]')
    if box.count() == 0:
        return True
    return box.first.is_visible()


def tick(locator):
    """Check a checkbox or radio even when it is styled away (hidden input, visible label)."""
    try:
        locator.check(timeout=5000)
    except Exception:  # hidden by CSS: click it from the page's side
        locator.evaluate("el => { if (!el.checked) el.click(); }")


def fill_one(page, spec, name, photo_path, filled):
    kind = spec.get("type")
    if kind == "image":
        if photo_path and "photo" not in filled:
            page.locator(f'input[type=file][name="{name}"], input[type=file]').first \
                .set_input_files(photo_path)
            filled["photo"] = name
        return
    if not spec.get("required") and kind != "boolean":
        return
    if not wrapper_visible(page, name):
        return
    targets = page.locator(f'[name="{name}"]')
    if targets.count() == 0:
        return
    first = targets.first
    tag = first.evaluate("el => el.tagName.toLowerCase()")
    input_type = (first.get_attribute("type") or "").lower()
    if kind == "boolean":
        if spec.get("required"):
            tick(first)
            filled[name] = True
        return
    if input_type in ("radio", "checkbox"):
        tick(first)
        filled[name] = first.get_attribute("value")
    elif tag == "select":
        values = [v for v in first.evaluate("el => Array.from(el.options).map(o => o.value)")
                  if v != ""]
        first.select_option(values[0])
        filled[name] = values[0]
    else:
        value = typed_value(spec)
        first.fill(value)
        filled[name] = value


def fill_form(page, schema, photo_path):
    """Fill every required visible field, in the schema's order (so show_if switches are set
    before the fields they show), the photo in its place. Returns {name: value}."""
    filled = {}
    for spec in schema.get("fields", []):
        kind = spec.get("type")
        if kind == "section":
            continue
        if kind == "repeat":
            if not spec.get("required") and not spec.get("min_rows"):
                continue
            for sub in spec.get("fields", []):  # the first row only
                if sub.get("type") not in ("section", "image"):
                    fill_one(page, sub, f"{spec['name']}-0-{sub['name']}", None, filled)
            continue
        fill_one(page, spec, spec["name"], photo_path, filled)
    return filled


# ---------------------------------------------------------------- one run

def receipt_locator(page):
    return page.locator("[data-receipt]").or_(page.get_by_text("提交成功")).first


def one_run(browser, proxy, app, url, schema, photo_path, args, shots_dir, run_no):
    context = browser.new_context(viewport={"width": 360, "height": 740},
                                  device_scale_factor=2, is_mobile=True, has_touch=True,
                                  locale="zh-CN", user_agent=WECHAT_UA)
    page = context.new_page()
    page.set_default_timeout(PAGE_TIMEOUT_S * 1000)
    page.on("dialog", lambda dialog: dialog.accept())
    failures, foreign = [], []
    page.on("request", lambda r: foreign.append(r.url)
            if not r.url.startswith(("data:", "blob:", proxy_url(proxy))) else None)
    page.on("response", lambda r: failures.append(f"{r.status} {r.request.method} {r.url}")
            if r.status >= 400 and not r.url.endswith("/favicon.ico") else None)
    cdp = context.new_cdp_session(page)
    cdp.send("Network.enable")
    rate = args.kbps * 1024
    cdp.send("Network.emulateNetworkConditions", {
        "offline": False, "latency": args.latency_ms,
        "downloadThroughput": rate, "uploadThroughput": rate})
    photos_before = set(stored_files(app.data_dir))
    mark = proxy.mark()
    result = {"run": run_no, "photo_sent_bytes": os.path.getsize(photo_path)}
    try:
        t_open = time.perf_counter()
        page.goto(url, wait_until="load", timeout=PAGE_TIMEOUT_S * 1000)
        result["open_to_form_s"] = time.perf_counter() - t_open
        filled = fill_form(page, schema, photo_path)
        result["filled"] = filled
        if "photo" not in filled:
            raise RuntimeError("the page has no photo input")
        if args.think_s:  # the cadre is still typing: a photo sent on pick may finish meanwhile
            page.wait_for_timeout(args.think_s * 1000)
        button = page.locator("[data-tz-submit]").or_(
            page.get_by_role("button", name="提交")).first
        t_submit = time.perf_counter()
        button.click()
        receipt = receipt_locator(page)
        deadline = t_submit + RECEIPT_TIMEOUT_S
        while True:  # poll, so that a refused submission (4xx) ends the wait early
            try:
                receipt.wait_for(state="visible", timeout=250)
                break
            except Exception:
                if time.perf_counter() > deadline:
                    raise RuntimeError(f"no receipt after {RECEIPT_TIMEOUT_S} s")
                posted = [f for f in failures if " GET " not in f]
                if posted:
                    time.sleep(1)  # let the page show the error
                    raise RuntimeError("the server refused the submission: " + "; ".join(
                        posted) + "\npage: " + page.inner_text("body")[:1500])
        t_receipt = time.perf_counter()
        result["submit_to_receipt_s"] = t_receipt - t_submit
        result["open_to_receipt_s"] = t_receipt - t_open
        result["receipt"] = page.locator("[data-receipt]").first.get_attribute(
            "data-receipt") if page.locator("[data-receipt]").count() else None
        try:  # the receipt page's own assets are part of what the phone downloads
            page.wait_for_load_state("load", timeout=PAGE_TIMEOUT_S * 1000)
        except Exception:
            pass
        traffic = proxy.since(mark)

        def at(moment):  # seconds after opening the link
            return None if moment is None else round(moment - t_open, 3)
        result.update(bytes_sent=traffic["bytes_sent"], bytes_received=traffic["bytes_received"],
                      connections=traffic["connections"])
        result["requests"] = [{"request": r["first_line"], "sent": r["up"],
                               "received": r["down"], "at_s": at(r["opened"]),
                               "sent_s": at(r["first_up"]), "sent_done_s": at(r["last_up"]),
                               "answered_s": at(r["first_down"])}
                              for r in traffic["requests"]]
        result["foreign_requests"] = sorted(set(foreign))
        if shots_dir:
            page.screenshot(path=os.path.join(shots_dir, f"receipt-{run_no}.png"))
    except Exception:
        if shots_dir:
            try:
                page.screenshot(path=os.path.join(shots_dir, f"failed-{run_no}.png"),
                                full_page=True)
            except Exception:
                pass
        raise
    finally:
        context.close()
    result["stored_photo"] = stored_photo(app.data_dir, photos_before)
    return result


def proxy_url(proxy):
    return f"http://127.0.0.1:{proxy.port}"


def stored_files(data_dir):
    for folder, _dirs, files in os.walk(data_dir):
        for name in files:
            yield os.path.join(folder, name)


def stored_photo(data_dir, before, wait_s=10):
    """The largest image file the run added under the data folder (bytes, pixels, EXIF
    orientation); waits a little for a photo written after the receipt was shown."""
    deadline = time.monotonic() + wait_s
    while True:
        found = [d for d in (describe_image(p) for p in set(stored_files(data_dir)) - before)
                 if d]
        if found or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    return max(found, key=lambda d: d["bytes"]) if found else None


# ---------------------------------------------------------------- report

def print_table(results):
    setup = results["setup"]
    print(f"source {setup['source']} ({setup['commit']}), form {setup['form']}, "
          f"{setup['org']}; latency {setup['latency_ms']} ms, {setup['kbps']} KB/s up and "
          f"down; photo picked {PHOTO_SIZE[0]}x{PHOTO_SIZE[1]} JPEG")
    print(f"{'run':>3} {'photo KB':>9} {'sent KB':>9} {'recv KB':>8} {'conns':>5} "
          f"{'open->form s':>12} {'submit->receipt s':>17} {'open->receipt s':>15} "
          f"{'stored KB':>9} {'stored px':>11} {'orient':>6}")
    for r in results["runs"]:
        photo = r.get("stored_photo") or {}
        pixels = f"{photo['width']}x{photo['height']}" if photo else "-"
        print(f"{r['run']:>3} {r['photo_sent_bytes'] / 1024:>9.0f} {r['bytes_sent'] / 1024:>9.0f} "
              f"{r['bytes_received'] / 1024:>8.0f} {r['connections']:>5} "
              f"{r['open_to_form_s']:>12.1f} {r['submit_to_receipt_s']:>17.1f} "
              f"{r['open_to_receipt_s']:>15.1f} "
              f"{(photo.get('bytes') or 0) / 1024:>9.0f} {pixels:>11} "
              f"{str(photo.get('exif_orientation', '-')):>6}")
    for r in results["runs"]:
        print(f"run {r['run']} connections (request line: KB sent / received; seconds after "
              "opening the link: connected, first and last byte sent, first byte received):")
        for q in r["requests"]:
            times = " ".join("-" if q[k] is None else f"{q[k]:.1f}"
                             for k in ("at_s", "sent_s", "sent_done_s", "answered_s"))
            print(f"    {q['request'] or '(nothing sent)'}: {q['sent'] / 1024:.1f} / "
                  f"{q['received'] / 1024:.1f} KB; {times}")
        if r["foreign_requests"]:
            print("    requests not to the app:", ", ".join(r["foreign_requests"]))


def git_commit(source):
    try:
        done = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=source,
                              capture_output=True, text=True, timeout=10)
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                               cwd=source, capture_output=True, text=True, timeout=10)
        return done.stdout.strip() + ("+modified" if dirty.stdout.strip() else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", default=ROOT,
                        help="the source folder whose app is served (default: this repo)")
    parser.add_argument("--latency-ms", type=float, default=400,
                        help="round-trip latency the browser adds to every request (400)")
    parser.add_argument("--kbps", type=float, default=50,
                        help="download and upload throughput in KB/s (50 = 51,200 bytes/s)")
    parser.add_argument("--runs", type=int, default=1, help="runs, each with its own photo")
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    parser.add_argument("--form", help="form id to fill (default: one with a photo field)")
    parser.add_argument("--think-s", type=float, default=0,
                        help="seconds between filling the form and pressing 提交 (0); counted "
                        "in open->receipt, not in submit->receipt")
    parser.add_argument("--workers", type=int, default=2,
                        help="gunicorn sync workers, WEB_CONCURRENCY (2, as `make serve`)")
    parser.add_argument("--keep", action="store_true",
                        help="keep the temp folder (data, photos, gunicorn log, screenshots)")
    args = parser.parse_args()
    source = os.path.abspath(args.source)
    if not os.path.exists(os.path.join(source, "app.py")):
        raise SystemExit(f"--source {source}: no app.py there")
    if not os.path.exists(CHROMIUM):
        raise SystemExit(f"{CHROMIUM} is missing (apt-get install chromium); no browser is "
                         "ever downloaded")
    from playwright.sync_api import sync_playwright

    tmp = tempfile.mkdtemp(prefix="phone_photo-")
    data_dir = os.path.join(tmp, "data")
    os.makedirs(data_dir)
    app_port = free_port()
    proxy = CountingProxy(app_port).start()
    app = App(source, data_dir, args.workers, proxy_url(proxy), app_port)
    results = {"setup": {"source": source, "commit": git_commit(source),
                         "latency_ms": args.latency_ms, "kbps": args.kbps,
                         "workers": args.workers, "user_agent": WECHAT_UA,
                         "viewport": "360x740"}, "runs": []}
    try:
        log(f"seeding a fresh data folder for {source} ...")
        app.flask("init")
        form_id, schema = pick_form(app, args.form, tmp)
        code, org_name, url = village_link(app, form_id)
        results["setup"].update(form=form_id, org=f"{code} {org_name}", url=url)
        app.start()
        log(f"gunicorn on :{app_port}, counting proxy on :{proxy.port}; link {url}")
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=[
                "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update",
                "--disable-sync"])
            try:
                for run_no in range(1, args.runs + 1):
                    photo = os.path.join(tmp, f"IMG_2026120{run_no % 10}_0930{run_no:02d}.jpg")
                    size = make_photo(photo, seed=run_no)
                    log(f"run {run_no}: photo {size / 1e6:.2f} MB; expect about "
                        f"{size / (args.kbps * 1024):.0f} s of upload at {args.kbps:g} KB/s")
                    result = one_run(browser, proxy, app, url, schema, photo, args,
                                     tmp if args.keep else None, run_no)
                    results["runs"].append(result)
                    log(f"run {run_no}: receipt {result.get('receipt')} after "
                        f"{result['submit_to_receipt_s']:.1f} s, sent "
                        f"{result['bytes_sent'] / 1e6:.2f} MB")
            finally:
                browser.close()
    finally:
        app.stop()
        proxy.stop()
        if args.keep:
            log(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    if args.json:
        print(json.dumps(results, ensure_ascii=False, indent=1))
    else:
        print_table(results)


if __name__ == "__main__":
    main()
