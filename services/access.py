"""Who may see which organization: decided here, applied by every page, export and command.

Today there is one role, ``admin`` (county-wide: every organization). The lifecycle issue adds
reviewers scoped to a township; their scope is computed here too, so no view or query decides
it on its own.
"""

ROLES = ("admin",)


def visible_orgs(user, index):
    """The codes of the organizations ``user`` may see, or None for all of them."""
    if user is not None and getattr(user, "role", None) == "admin":
        return None
    return set()


def restrict(user, index, org_codes):
    """``org_codes`` (None = every organization) narrowed to what ``user`` may see: the value
    to pass to every submission query for that user."""
    visible = visible_orgs(user, index)
    if visible is None:
        return org_codes
    return set(visible) if org_codes is None else set(org_codes) & visible


def may_see_org(user, index, code):
    visible = visible_orgs(user, index)
    return visible is None or code in visible


def may_read_audit(user):
    """Whether ``user`` may read the audit log (every account's actions): admins only."""
    return user is not None and getattr(user, "role", None) == "admin"
