"""Diagnostic variants of the HTTP submit benchmark's server (bench/http_ceiling.py). Never served.

Each variant takes one part out of a real submit - or puts the issue's reference storage in -
so that the throughput it reaches shows what that part costs. Chosen with CEILING_VARIANT:

- ``minlog``: the bare endpoint (bench/bare_app.py: parse the POST, answer 303) plus the issue's
  reference storage: one JSON line per request appended under an flock and fsync'd (no ids, no
  receipts, no reading back);
- ``nostore``: Taizhang with Store.add_submission replaced by a counter (nothing written);
- ``nofsync``: Taizhang with os.fsync a no-op (everything written, nothing made durable);
- ``noform``: Taizhang whose POST skips WTForms - the posted strings are stored as they come,
  unvalidated - with CSRF (CSRFProtect), session, link lookup, storage and redirect unchanged;
- ``noform_nostore``: both, i.e. what Flask, the session, CSRF, the link lookup and the redirect
  cost on their own.

Served exactly like the real app (bench/common.Gunicorn: `make serve`'s command line,
WEB_CONCURRENCY=2 sync workers): `gunicorn ... 'bench.ceiling_app:create_app()'`.
"""
import fcntl
import itertools
import json
import os

VARIANTS = ("minlog", "nostore", "nofsync", "noform", "noform_nostore")


def create_app():
    variant = os.environ.get("CEILING_VARIANT", "")
    if variant not in VARIANTS:
        raise RuntimeError(f"CEILING_VARIANT must be one of {', '.join(VARIANTS)}")
    if variant == "minlog":
        return _minlog_app()
    if variant == "nofsync":
        os.fsync = lambda fd: None  # this worker process only: logdb calls os.fsync
    if variant in ("nostore", "noform_nostore"):
        _no_storage()
    from app import create_app as create_taizhang

    app = create_taizhang()
    if variant in ("noform", "noform_nostore"):
        _no_form(app)
    return app


def _minlog_app():
    from flask import Flask, redirect, request

    app = Flask(__name__)
    log = {"pid": None}
    counter = itertools.count(1)

    def files():
        if log["pid"] != os.getpid():  # opened once per worker, after the fork
            path = os.path.join(os.environ["TAIZHANG_DATA_DIR"], "minlog.jsonl")
            log["fd"] = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            log["lock"] = os.open(path + ".lock", os.O_RDWR | os.O_CREAT, 0o600)
            log["pid"] = os.getpid()
        return log["fd"], log["lock"]

    @app.route("/f/<token>", methods=["GET", "POST"])
    def entry(token):
        if request.method == "GET":
            return "<form method=post><input name=csrf_token type=hidden value=bare></form>"
        fields = request.form.to_dict(flat=False)
        if "submission_id" not in fields:
            return "missing submission_id", 400
        line = json.dumps(fields, ensure_ascii=False).encode("utf-8") + b"\n"
        fd, lock = files()
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            os.write(fd, line)
            os.fsync(fd)
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
        return redirect(f"/f/{token}/r/{os.getpid() % 1000:03d}-{next(counter):06d}", 303)

    return app


def _no_storage():
    import storage

    counter = itertools.count(1)

    def add_submission(self, form_id, form_version, org_code, answers, submission_id,
                       token=None, files=None, period=None, slot=None, project_id=None):
        # What the view reads of a stored submission: the private receipt link's key needs
        # the submission id; the lifecycle hooks read the form, organization and project.
        return {"receipt": f"{os.getpid() % 1000:03d}-{next(counter):06d}",
                "submission_id": submission_id, "form_id": form_id, "org_code": org_code,
                "answers": answers, "period": period, "project_id": project_id}, True

    storage.TinyStore.add_submission = add_submission  # http_ceiling runs on TinyDB bases


def _no_form(app):
    from flask import redirect, request, url_for

    from views import public
    from views.web import get_store

    real_entry = app.view_functions["public.entry"]

    def entry(token):
        if request.method != "POST":
            return real_entry(token)
        _link, schema, _form_class, org, _path = public._resolve(token)
        posted = request.form
        answers = {name: posted.get(name) for name in posted
                   if name not in ("csrf_token", "submission_id")}
        doc, _created = get_store().add_submission(
            form_id=schema["id"], form_version=schema["version"], org_code=org["code"],
            answers=answers, submission_id=posted["submission_id"], token=token)
        return redirect(url_for("public.receipt", token=token, receipt=doc["receipt"]), 303)

    app.view_functions["public.entry"] = entry
