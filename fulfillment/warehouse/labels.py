"""The shipping label's barcode: Code 128 of the tracking number, as inline SVG.

Drawn by python-barcode (no image library needed). The SVG is sized in millimetres, so the
printed label has the physical size a scanner expects.
"""

import barcode
from barcode.writer import SVGWriter
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

WRITER_OPTIONS = {"module_width": 0.33, "module_height": 18.0, "font_size": 11, "text_distance": 5.0}


def barcode_svg(code: str) -> SafeString:
    """An <svg> element encoding `code`, ready to inline in a page."""
    rendered = barcode.Code128(code, writer=SVGWriter()).render(WRITER_OPTIONS).decode()
    svg = rendered[rendered.index("<svg") :]
    label = f'<svg role="img" aria-label="Barcode {escape(code)}" '
    # python-barcode escapes the human-readable text it writes into the SVG.
    return mark_safe(svg.replace("<svg ", label, 1))
