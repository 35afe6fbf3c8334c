"""The bare baseline of the HTTP benchmark: Flask that parses the same POST and nothing else.

Served exactly like Taizhang (bench/common.Gunicorn: `gunicorn --bind 127.0.0.1:PORT
--access-logfile - 'bench.bare_app:create_app()'`, WEB_CONCURRENCY=2 sync workers), it answers
the same requests bench/submit.lua sends to the real form: the POST body is parsed by Werkzeug
(request.form, every value read) and answered with a 303 to a receipt-like URL, as the real
view does - but without CSRF, WTForms validation, templates or storage.
"""
import itertools
import os

from flask import Flask, redirect, request


def create_app():
    app = Flask(__name__)
    counter = itertools.count(1)
    pid = os.getpid()

    @app.route("/f/<token>", methods=["GET", "POST"])
    def entry(token):
        if request.method == "GET":
            return "<form method=post><input name=csrf_token type=hidden value=bare></form>"
        fields = request.form.to_dict(flat=False)
        if "submission_id" not in fields:
            return "missing submission_id", 400
        receipt = f"{pid % 1000:03d}-{next(counter):06d}"
        return redirect(f"/f/{token}/r/{receipt}", 303)

    return app
