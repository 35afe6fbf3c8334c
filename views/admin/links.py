"""Admin: QR links of a form (per township: generate, download PNG/SVG, regenerate, revoke,
the printable A4 sheet), for the organizations that must fill it (its audience). A reviewer
sees and prints the links of the organizations in scope (to resend them); only an admin makes,
replaces or stops one."""
from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user

import qr
from db import get_store
from services import access, periods
from services import links as link_service
from services.orgs import org_index
from views.admin import bp
from views.web import audit, entry_url, get_form_or_404, send_bytes


def _scope(index, schema, township):
    """The organizations of ``township`` (all when empty) that must fill ``schema`` and the
    current user may see; 404 for an unknown township or one out of scope."""
    if township and not access.may_see_org(current_user, index, township):
        abort(404)
    try:
        orgs = link_service.scope(index, schema, township)
    except LookupError:
        abort(404)
    visible = access.visible_orgs(current_user, index)
    return orgs if visible is None else [o for o in orgs if o["code"] in visible]


def _back_to_links(form_id):
    return redirect(url_for("admin.links", form_id=form_id,
                            township=request.form.get("township", "")))


@bp.route("/forms/<form_id>/links")
def links(form_id):
    store = get_store()
    form_doc = get_form_or_404(form_id)
    index = org_index(store)
    township = request.args.get("township", "")
    active = link_service.active_links(store, form_id)
    rows = [{"org": o, "path": index.path(o["code"]), "link": active.get(o["code"]),
             "url": entry_url(active[o["code"]]["token"]) if o["code"] in active else None}
            for o in _scope(index, form_doc["schema"], township)]
    visible = access.visible_orgs(current_user, index)
    return render_template("admin/links.html", form_doc=form_doc, rows=rows,
                           townships=[t for t in index.townships()
                                      if visible is None or t["code"] in visible],
                           township=township,
                           missing=sum(1 for r in rows if r["link"] is None))


@bp.route("/forms/<form_id>/links/generate", methods=["POST"])
def links_generate(form_id):
    store = get_store()
    form_doc = get_form_or_404(form_id)
    scope = _scope(org_index(store), form_doc["schema"], request.form.get("township", ""))
    before = len(link_service.active_links(store, form_id))
    after = len(link_service.ensure_links(store, form_id, [o["code"] for o in scope]))
    if after > before:
        audit("link.create", target=form_id, detail={
            "count": after - before, "township": request.form.get("township") or None})
    flash(f"已生成 {after - before} 个新链接", "success")
    return _back_to_links(form_id)


@bp.route("/links/<token>/revoke", methods=["POST"])
def link_revoke(token):
    try:
        link = link_service.revoke(get_store(), token)
    except LookupError:
        abort(404)
    audit("link.revoke", target=f"{link['form_id']}/{link['org_code']}")
    flash("链接已停用，旧二维码将无法打开", "success")
    return _back_to_links(link["form_id"])


@bp.route("/links/<token>/regenerate", methods=["POST"])
def link_regenerate(token):
    try:
        link = link_service.regenerate(get_store(), token)
    except LookupError:
        abort(404)
    audit("link.regenerate", target=f"{link['form_id']}/{link['org_code']}")
    flash("已生成新链接，旧二维码已停用，请重新打印", "success")
    return _back_to_links(link["form_id"])


@bp.route("/forms/<form_id>/links/new", methods=["POST"])
def link_create(form_id):
    store = get_store()
    form_doc = get_form_or_404(form_id)
    code = request.form.get("org_code", "")
    index = org_index(store)
    if code not in index or ("audience" in form_doc["schema"]
                             and not periods.in_audience(form_doc["schema"], index.get(code))):
        abort(404)  # not an organization the form names as its audience
    if store.active_link(form_id, code) is None:
        link_service.ensure_links(store, form_id, [code])
        audit("link.create", target=f"{form_id}/{code}", detail={"count": 1})
    return _back_to_links(form_id)


@bp.route("/links/<token>/qr.<fmt>")
def link_qr(token, fmt):
    store = get_store()
    link = store.get_link(token)
    if link is None or fmt not in ("png", "svg") or link.get("revoked_at") \
            or not access.may_see_org(current_user, org_index(store), link["org_code"]):
        abort(404)
    url = entry_url(token)
    body = qr.qr_png(url) if fmt == "png" else qr.qr_svg(url)
    filename = f"{link['form_id']}-{link['org_code']}.{fmt}" if request.args.get("download") \
        else None
    return send_bytes(body, "image/png" if fmt == "png" else "image/svg+xml", filename)


@bp.route("/forms/<form_id>/qr-sheet")
def qr_sheet(form_id):
    """A printable A4 page: one labelled QR code per organization of a township that must
    fill the form."""
    store = get_store()
    form_doc = get_form_or_404(form_id)
    township = request.args.get("township", "")
    if not township:
        abort(404)
    index = org_index(store)
    # The township's own code is on its sheet only when the form names townships among who
    # must fill it (a sheet is for the villages and units of the township otherwise).
    scope = [o for o in _scope(index, form_doc["schema"], township)
             if o["code"] != township or "audience" in form_doc["schema"]]
    active = link_service.active_links(store, form_id)
    cards = [{"org": o, "token": active[o["code"]]["token"]} for o in scope
             if o["code"] in active]
    missing = [o for o in scope if o["code"] not in active]
    return render_template("admin/qr_sheet.html", form_doc=form_doc, cards=cards,
                           missing=missing, township=index.get(township))
