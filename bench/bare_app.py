"""The bare baseline of the HTTP benchmark: Flask that parses the same POST and nothing else.

Served exactly like Taizhang (bench/common.Gunicorn: `gunicorn --bind 127.0.0.1:PORT
--access-logfile - 'bench.bare_app:create_app()'`, WEB_CONCURRENCY=2 sync workers), it answers
the same requests bench/submit.lua sends to the real form: the POST body is parsed by Werkzeug
(request.form, every value read) and answered with a 303 to a receipt-like URL, as the real
view does - but without CSRF, WTForms validation, templates or storage.

With BENCH_BARE_STORE=1 in the environment (a diagnostic reference, not the baseline) the
handler also stores the posted values as a submission of the link's form (public_demand in
the benchmarks) with Store.add_submission in the deployment's Store
(storage.open_store: TAIZHANG_DATABASE_URL, else TAIZHANG_DATA_DIR's TinyDB file), as the
real view does after validation: bare -> bare + storage -> full app shows
where the time goes.
"""
import itertools
import os
import threading

from flask import Flask, redirect, request


def create_app():
    app = Flask(__name__)
    counter = itertools.count(1)
    with_store = os.environ.get("BENCH_BARE_STORE") == "1"
    holder = {"pid": None, "store": None, "forms": {}}
    lock = threading.Lock()

    def store():
        if holder["pid"] != os.getpid():  # open once per worker, after the fork
            with lock:
                import storage

                holder["store"] = storage.open_store(os.environ.get("TAIZHANG_DATABASE_URL"),
                                                     os.environ["TAIZHANG_DATA_DIR"])
                holder["forms"] = {}
                holder["pid"] = os.getpid()
        return holder["store"]

    def form_of(db, form_id):
        if form_id not in holder["forms"]:
            holder["forms"][form_id] = db.get_form(form_id)
        return holder["forms"][form_id]

    @app.route("/f/<token>", methods=["GET", "POST"])
    def entry(token):
        if request.method == "GET":
            if with_store:
                store()
            return "<form method=post><input name=csrf_token type=hidden value=bare></form>"
        fields = request.form.to_dict(flat=False)
        if "submission_id" not in fields:
            return "missing submission_id", 400
        if with_store:
            db = store()
            link = db.get_link(token)
            form = form_of(db, link["form_id"])
            answers = {k: v[0] if len(v) == 1 else v for k, v in fields.items()
                       if k not in ("csrf_token", "submission_id")}
            doc, _created = db.add_submission(link["form_id"], form["version"],
                                              link["org_code"], answers,
                                              fields["submission_id"][0], token=token)
            receipt = doc["receipt"]
        else:
            receipt = f"{os.getpid() % 1000:03d}-{next(counter):06d}"
        return redirect(f"/f/{token}/r/{receipt}", 303)

    return app
