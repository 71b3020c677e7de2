"""The label's codes decode back: its SVG rasterised at the printer's 203 dpi (cairosvg), then
read by zxing-cpp, gives the payload from the QR code and the tag from the ITF barcode."""

from __future__ import annotations

import io

import pytest

cairosvg = pytest.importorskip("cairosvg", reason="dev dependency: pip install -e '.[dev]'")
zxingcpp = pytest.importorskip("zxingcpp", reason="dev dependency: pip install -e '.[dev]'")
from PIL import Image  # noqa: E402  (comes with cairosvg)

from tagging.labels import Label, decode_payload, encode_payload, render_svg  # noqa: E402
from tagging.symbols import DPI  # noqa: E402
from tagging.tags import make_tag  # noqa: E402

LABELS = [
    Label(make_tag("065", 123456), "ID-000123", "SV5123-2026-05-18", "JED", "hotel-mak-0042", 7,
          "Ahmed Ali"),
    Label(make_tag("214", 9, 3), "PK-7", "PK741-2026-05-18", "MED", "MED-H9", None, "أحمد علي"),
    Label(make_tag("997", 654321), "BD/ü 1", "BG1-2026-05-20", "JED", "Dhaka %1", 24, None),
]  # fmt: skip


def read(svg: str) -> dict[str, str]:
    png = cairosvg.svg2png(bytestring=svg.encode("utf-8"), dpi=DPI)
    image = Image.open(io.BytesIO(png))
    assert image.size == (799, 400)  # 100 x 50 mm at 203 dpi
    found = zxingcpp.read_barcodes(image)
    return {result.format.name: result.text for result in found}


@pytest.mark.parametrize("label", LABELS, ids=lambda label: str(label.tag))
@pytest.mark.parametrize("lang", ["en", "ar"])
def test_qr_and_tag_barcode_decode_back(label: Label, lang: str) -> None:
    codes = read(render_svg(label, lang))
    assert codes.get("ITF") == str(label.tag)
    payload = codes.get("QRCode")
    assert payload == encode_payload(label)
    assert decode_payload(payload) == label.without_name()
