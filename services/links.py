"""QR links: the capability URL a village opens, and making, revoking and listing links.

A link is an unguessable token (storage: secrets.token_urlsafe(24)) for one (form,
organization); at most one is active per pair. Its URL is ``BASE_URL/f/<token>``: the public
address configured by the operator, never guessed from a request. A form that names its
audience gets links for the organizations of that audience only.
"""
from services import periods


def entry_url(base_url, token):
    """The public capability URL for a link token."""
    return f"{base_url.rstrip('/')}/f/{token}"


def active_links(store, form_id):
    """org code -> the active link of a form."""
    return {link["org_code"]: link for link in store.list_links(form_id, active_only=True)}


def ensure_links(store, form_id, org_codes):
    """Create an active link for every organization in org_codes that has none; return every
    active link of the form by org code."""
    active = active_links(store, form_id)
    for code in org_codes:
        if code not in active:
            active[code] = store.create_link(form_id, code)
    return active


def scope(index, schema, township=None):
    """The organizations a links page, a QR sheet or `flask links` covers: in one township's
    subtree (LookupError for an unknown township) or everywhere; for a form that names its
    audience (``audience``: services.periods.in_audience) only those that must fill it — a
    form without one is for every organization, townships' own included, as it always was.
    Sorted by code."""
    if township:
        if township not in index:
            raise LookupError(township)
        orgs = [index.get(code) for code in index.below(township)]
    else:
        orgs = list(index.orgs)
    named = "audience" in schema
    return sorted((o for o in orgs if not named or periods.in_audience(schema, o)),
                  key=lambda o: o["code"])


def regenerate(store, token):
    """A new link replacing the one with ``token`` (which stops working); the new link.
    LookupError for an unknown token."""
    link = store.get_link(token)
    if link is None:
        raise LookupError(token)
    return store.create_link(link["form_id"], link["org_code"])


def revoke(store, token):
    """Stop a link; the link. LookupError for an unknown token."""
    link = store.revoke_link(token)
    if link is None:
        raise LookupError(token)
    return link
