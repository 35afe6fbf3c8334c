"""QR codes for entry links: url -> PNG bytes / SVG bytes. Pure.

Error correction level M (15% of the code can be lost) survives a creased, sun-faded print on
a village office wall while keeping a capability URL at a low QR version (large modules that a
cheap phone camera reads from a distance). Every image has a white background and the standard
4-module quiet zone, so it scans on any page or screen.
"""
import io

import qrcode
import qrcode.constants
import qrcode.image.svg

ERROR_CORRECTION = qrcode.constants.ERROR_CORRECT_M


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


def _code(url, box_size, border):
    if not isinstance(url, str) or not url.strip():
        raise ValueError("QR code needs a non-empty URL")
    code = qrcode.QRCode(error_correction=ERROR_CORRECTION, box_size=box_size, border=border)
    code.add_data(url)
    code.make(fit=True)
    return code
