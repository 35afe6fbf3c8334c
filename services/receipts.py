"""Private receipt links: the capability URL where a cadre sees a submission again.

``/r/<key>/<receipt>``: the receipt number says which submission, the key proves the holder
was given the link. The key is an HMAC, under the deployment's secret key (shared by every
host), of the submission's id — a random id made by the page, never shown — so neither a
receipt number (sequential) nor a QR link is enough to read another village's answers.
"""
import base64
import hashlib
import hmac

from flask import current_app

_KEY_CHARS = 22  # 132 bits of the HMAC, base64url


def key(doc):
    """The key of a stored submission's private receipt link."""
    message = f"receipt:{doc['receipt']}:{doc['submission_id']}".encode()
    digest = hmac.new(current_app.config["SECRET_KEY"].encode(), message, hashlib.sha256)
    return base64.urlsafe_b64encode(digest.digest()).decode()[:_KEY_CHARS]


def key_matches(doc, given):
    """Whether ``given`` is the key of ``doc``'s private receipt link (constant time)."""
    return isinstance(given, str) and hmac.compare_digest(key(doc), given)
