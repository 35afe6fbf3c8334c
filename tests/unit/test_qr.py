"""qr.py: PNG and SVG QR codes that really encode the URL.

No QR decoder is installed (zbar is not available), so the tests regenerate the module matrix
with qrcode for the same URL and compare it with the image, module by module.
"""
import io
import re
import xml.etree.ElementTree as ET

import pytest
import qrcode
import qrcode.constants
from PIL import Image

import qr

URL = "https://taizhang.example.cn/f/Xk3v9Qm2LrT8wYb4NcA7sDfG1hJ6pE0u"
SVG_NS = "{http://www.w3.org/2000/svg}"


def reference_matrix(url, border=4):
    code = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, border=border)
    code.add_data(url)
    code.make(fit=True)
    return code.get_matrix()


def png_modules(png, box_size, modules):
    """Sample the centre pixel of every module: True where dark."""
    image = Image.open(io.BytesIO(png)).convert("L")
    assert image.size == (modules * box_size, modules * box_size)
    half = box_size // 2
    return [[image.getpixel((x * box_size + half, y * box_size + half)) < 128
             for x in range(modules)] for y in range(modules)]


def svg_modules(svg_root, modules):
    """Dark modules from the path's unit squares ("M4,4H5V5H4z" = the module at x=4, y=4)."""
    path = svg_root.find(f"{SVG_NS}path")
    dark = {(int(x), int(y)) for x, y in re.findall(r"M(\d+),(\d+)H", path.get("d"))}
    return [[(x, y) in dark for x in range(modules)] for y in range(modules)]


def test_png_is_a_png_of_the_right_size():
    png = qr.qr_png(URL)
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    image = Image.open(io.BytesIO(png))
    assert image.format == "PNG"
    modules = len(reference_matrix(URL))
    assert image.size == (modules * 10, modules * 10)


@pytest.mark.parametrize("url", [URL, "http://127.0.0.1:5000/f/abc", "https://x.cn/f/" + "a" * 200])
@pytest.mark.parametrize("box_size, border", [(10, 4), (3, 2)])
def test_png_encodes_the_url(url, box_size, border):
    expected = reference_matrix(url, border)
    assert png_modules(qr.qr_png(url, box_size=box_size, border=border), box_size,
                       len(expected)) == expected


def test_png_differs_for_another_url():
    expected = reference_matrix(URL)
    other = qr.qr_png(URL[:-1] + "v")
    assert png_modules(other, 10, len(expected)) != expected


def test_error_correction_is_m():
    png = qr.qr_png(URL)
    assert png_modules(png, 10, len(reference_matrix(URL))) == reference_matrix(URL)
    level_l = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_L)
    level_l.add_data(URL)
    level_l.make(fit=True)
    assert level_l.get_matrix() != reference_matrix(URL)


def test_svg_is_standalone_and_encodes_the_url():
    data = qr.qr_svg(URL)
    assert data.startswith(b"<?xml")
    root = ET.fromstring(data)
    assert root.tag == f"{SVG_NS}svg"
    modules = len(reference_matrix(URL))
    assert root.get("viewBox") == f"0 0 {modules} {modules}"
    assert root.find(f"{SVG_NS}rect").get("fill") == "white"  # scans on a dark background too
    assert svg_modules(root, modules) == reference_matrix(URL)


@pytest.mark.parametrize("bad", ["", "   ", None])
def test_empty_url_is_refused(bad):
    with pytest.raises(ValueError):
        qr.qr_png(bad)
