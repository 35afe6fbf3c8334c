"""Taizhang (台账): application factory. Wires config, storage, login, CSRF, blueprints and CLI."""
from flask import Flask, jsonify, render_template, request
from flask_wtf.csrf import CSRFError, CSRFProtect, generate_csrf
from werkzeug.middleware.proxy_fix import ProxyFix

import config
import db
import ratelimits
import storage
from views import admin, api, auth, public, security

csrf = CSRFProtect()


def create_app(test_config=None):
    """Build the Flask app. test_config (a dict) replaces instance config and environment."""
    app = Flask(__name__, instance_relative_config=True)
    config.load_config(app, test_config)
    config.check_secret_key(app)
    if app.config["PROXY_COUNT"]:
        n = app.config["PROXY_COUNT"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n, x_host=n, x_prefix=n)

    db.init_app(app)
    ratelimits.init_app(app)  # before CSRF: a refused client costs the least
    auth.init_login(app)
    csrf.init_app(app)
    app.register_blueprint(public.bp)
    app.register_blueprint(auth.bp)
    app.register_blueprint(admin.bp)
    api.init_app(app)  # /api/v1: bearer tokens, no CSRF, its own rate limit
    register_error_pages(app)
    security.init_app(app)

    import cli

    cli.register(app)
    return app


ERROR_PAGES = {
    400: ("请求无效", "提交的内容不完整或已过期，请返回后刷新页面重新提交。"),
    403: ("没有权限", "您没有访问此页面的权限。"),
    404: ("页面不存在", "链接无效、已停用或已更换。请联系乡镇党委或县委组织部获取新的二维码。"),
    405: ("请求方式不正确", "请返回上一页重新操作。"),
    409: ("提交冲突", "这份表单已经用不同的内容提交过。请刷新页面后重新填写。"),
    413: ("上传内容过大", "上传的文件太大。请压缩照片或减少照片数量后重新提交。"),
    429: ratelimits.ERROR_PAGE,
    500: ("系统错误", "系统出现错误，您的数据没有被保存。请稍后重试。"),
    503: ("暂时无法保存", "数据保存失败，您的提交没有被记录。请稍后重新提交。"),
}


def register_error_pages(app):
    """Every HTTP error a user can meet gets a Chinese page with the right status."""

    def render_error(code, detail=None, **extra):
        title, message = ERROR_PAGES[code]
        if request.accept_mimetypes.best == "application/json":
            # The cadre's page submits in the background: it shows the message itself.
            return jsonify(error=detail or message, **extra), code
        return render_template("error.html", code=code, title=title,
                               message=detail or message), code

    for code in ERROR_PAGES:
        app.register_error_handler(code, lambda e, code=code: render_error(code))

    @app.errorhandler(CSRFError)
    def csrf_error(e):
        # A fresh token lets the cadre's page send its fill again without losing it.
        return render_error(400, "页面已过期或缺少安全校验，请刷新页面后重新提交。",
                            csrf_token=generate_csrf())

    @app.errorhandler(storage.StorageError)
    def storage_error(e):
        app.logger.error("storage failure: %s", e)
        if request.blueprint == "public":
            return render_error(503)  # a cadre needs to know it was not saved, not why
        return render_template("error.html", code=503, title="暂时无法完成",
                               message=f"{e}。没有改变任何数据,请稍后重试。"), 503

    @app.errorhandler(storage.SubmissionConflict)
    def submission_conflict(e):
        return render_error(409)
