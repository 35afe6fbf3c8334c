"""QR codes for entry links: url -> PNG bytes / SVG bytes / inline SVG markup. Pure.

Error correction level M (15% of the code can be lost) survives a creased, sun-faded print on
a village office wall while keeping a capability URL at a low QR version (large modules that a
cheap phone camera reads from a distance). Every image has a white background and the standard
4-module quiet zone, so it scans on any page or screen.
"""
import io

import qrcode
import qrcode.constants
import qrcode.image.svg
from markupsafe import Markup

ERROR_CORRECTION = qrcode.constants.ERROR_CORRECT_M


def qr_matrix(url, border=4):
    """The code's modules as rows of booleans (True = dark), quiet zone included."""
    return _code(url, box_size=1, border=border).get_matrix()


def qr_png(url, box_size=10, border=4):
    """A black-on-white PNG of the QR code for ``url``; each module is box_size pixels."""
    image = _code(url, box_size, border).make_image()  # 1-bit Pillow image
    out = io.BytesIO()
    image.save(out)  # qrcode's PilImage saves as PNG by default
    return out.getvalue()


def qr_svg(url):
    """A standalone SVG file (UTF-8 bytes with XML declaration) of the QR code for ``url``.

    Sized in millimetres (1 mm per module) with a viewBox, so it prints at a known size and
    scales cleanly.
    """
    image = _code(url, box_size=10, border=4).make_image(
        image_factory=qrcode.image.svg.SvgPathFillImage)
    out = io.BytesIO()
    image.save(out)
    return out.getvalue()


def qr_svg_inline(url):
    """An ``<svg>`` element for embedding in an HTML page (Markup, a str subclass).

    No XML declaration and no id attribute, so one page can hold many codes (the A4 sheet has
    one per village). The markup is generated from module coordinates only; ``url`` never
    appears in it, so it is safe to render unescaped. Size it with CSS (width/height).
    """
    image = _code(url, box_size=10, border=4).make_image(
        image_factory=qrcode.image.svg.SvgPathFillImage)
    svg = image.to_string(encoding="unicode")
    svg = svg.replace(' id="qr-path"', "", 1)
    return Markup(svg.replace("<svg ", '<svg role="img" aria-label="二维码" ', 1))


def _code(url, box_size, border):
    if not isinstance(url, str) or not url.strip():
        raise ValueError("QR code needs a non-empty URL")
    code = qrcode.QRCode(error_correction=ERROR_CORRECTION, box_size=box_size, border=border)
    code.add_data(url)
    code.make(fit=True)
    return code
