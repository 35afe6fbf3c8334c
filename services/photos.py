"""Photos of public forms: stored as soon as a cadre picks them, with a thumbnail, and referred
to by the form through a signed reference.

The cadre's page shrinks a photo on the phone, uploads it on its own (``store_upload``) and puts
the reference it gets back (``make_ref``) in the form in place of the file. The form's photo
field accepts either an uploaded file (the page without JavaScript) or a reference
(``read_ref``): both end up as the same answer ``{"name", "size", "content_type", "file",
"thumb"}``. A reference is signed with the deployment's secret key (shared by every host), so
the form can refer only to photos this service stored and described; it reveals nothing that
lets anyone read a photo (photos are served to logged-in admins only).
"""
import io
from datetime import timedelta

from flask import current_app
from itsdangerous import BadSignature, URLSafeTimedSerializer
from PIL import Image, ImageOps

from forms.fields import client_filename
from storage.common import now

THUMB_SIDE = 640  # shown ~300 CSS px wide on 2x phone screens
THUMB_QUALITY = 70
# A reference stays valid this long: a fill may wait on a phone for days before the village
# has a network again.
REF_MAX_AGE = 30 * 24 * 3600
# Photos no submission refers to are deleted after this many days (one more than a reference
# lives).
PRUNE_AFTER_DAYS = REF_MAX_AGE // (24 * 3600) + 1
_REF_SALT = "taizhang.photo-ref"
_REF_KEYS = ("name", "size", "content_type", "file", "thumb")


def thumbnail(data):
    """JPEG bytes of a small copy of image ``data`` (longest side THUMB_SIDE, EXIF orientation
    applied), or None when Pillow cannot draw it (an animated or odd image keeps no thumbnail:
    pages then show the photo itself)."""
    try:
        with Image.open(io.BytesIO(data)) as image:
            # A JPEG is decoded at 1/2, 1/4 or 1/8 of its size straight away: a 12-megapixel
            # photo's thumbnail then draws ~0.2 instead of 12 million pixels.
            image.draft("RGB", (THUMB_SIDE * 2, THUMB_SIDE * 2))
            image = ImageOps.exif_transpose(image)
            image.thumbnail((THUMB_SIDE, THUMB_SIDE))
            if image.mode not in ("RGB", "L"):
                image = image.convert("RGB")
            out = io.BytesIO()
            image.save(out, "JPEG", quality=THUMB_QUALITY, optimize=True)
            return out.getvalue()
    except Exception:  # Pillow raises many kinds; a photo without thumbnail is still a photo
        current_app.logger.warning("no thumbnail for a %d-byte photo", len(data))
        return None


def store_photo(store, data, info):
    """Store a checked photo (``info``: {"name", "size", "content_type"} from the form's image
    check) and its thumbnail; the answer dict with "file" and "thumb" (None if no thumbnail).
    Each is durable before it is named: a submission never refers to a missing file."""
    answer = dict(info)
    answer["file"] = store.put_photo(data, info["content_type"])
    small = thumbnail(data)
    answer["thumb"] = store.put_photo(small, "image/jpeg") if small else None
    return answer


def store_field(store, field):
    """Store the file a validated photo field received (forms.fields.PhotoField, checked by
    ImageCheck); its answer dict (as store_photo)."""
    upload = field.data
    upload.stream.seek(0)
    info = {"name": client_filename(upload.filename), **field.image_info}
    return store_photo(store, upload.stream.read(), info)


def prune(store, days=None):
    """Delete the photos pages uploaded for fills never sent: no submission refers to them
    and none was put in the last ``days`` days (at least a reference's lifetime, so that no
    fill still kept on a phone can send one). The number deleted."""
    days = PRUNE_AFTER_DAYS if days is None else days
    if days < PRUNE_AFTER_DAYS:
        raise ValueError(f"照片至少保留 {PRUNE_AFTER_DAYS} 天（手机上未提交的填报可能还会用到）")
    return store.prune_photos(now() - timedelta(days=days))


def _serializer():
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=_REF_SALT)


def scope(form_id, org_code):
    """What a reference is good for: one form of one organization (not the link's token, so
    that a fill kept on a phone keeps its photos when the village's QR code is re-issued)."""
    return f"{form_id}/{org_code}"


def make_ref(answer, where):
    """The signed reference a form of scope ``where`` sends instead of the photo it
    describes."""
    return _serializer().dumps({"scope": where, **{key: answer.get(key) for key in _REF_KEYS}})


def read_ref(ref, where):
    """The answer dict a reference stands for, or None if it is not one this service signed
    for scope ``where`` (or is older than REF_MAX_AGE). The photo it names was stored before
    it was signed."""
    if not isinstance(ref, str) or not ref or len(ref) > 2000 or not where:
        return None
    try:
        answer = _serializer().loads(ref, max_age=REF_MAX_AGE)
    except BadSignature:  # also SignatureExpired
        return None
    if not isinstance(answer, dict) or not isinstance(answer.get("file"), str) \
            or answer.get("scope") != where:
        return None
    return {key: answer.get(key) for key in _REF_KEYS}


def files_of(schema, answers):
    """The stored photo names (originals and thumbnails) a submission's answers refer to."""
    return [name for spec in schema["fields"] if spec["type"] == "image"
            and isinstance(answers.get(spec["name"]), dict)
            for name in (answers[spec["name"]].get("file"), answers[spec["name"]].get("thumb"))
            if name]


def prefill(form, schema, answers):
    """Prefill each photo field of a form being corrected with its stored photo, as a signed
    reference for the form's ``photo_scope`` (kept unless another photo is picked)."""
    for spec in schema["fields"]:
        value = answers.get(spec["name"])
        if spec["type"] == "image" and isinstance(value, dict) and value.get("file"):
            form[spec["name"]].image_info = value
            form[spec["name"]].data = make_ref(value, form.photo_scope)
