"""Pixels for a view tree, drawn with Pillow: what the page source says is where the picture shows it.

Every view with a `paint` is drawn inside its own bounds: text in its colour and size role,
buttons filled, fields underlined with their text or hint, switches, checkboxes, sliders, list
rows on the surface colour, app icons and avatars as lettered discs, simple vector glyphs for
icon buttons. The dark-theme setting swaps the palette for the whole screen, as on Android.
"""
from __future__ import annotations

import ctypes
import struct
import zlib
from concurrent.futures import ThreadPoolExecutor
from functools import cache

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from control.phone.observation import Bounds
from sims.phone.ui import View

Color = tuple[int, int, int]
PALETTES: dict[str, dict[str, Color]] = {
    "light": {"bg": (248, 249, 252), "surface": (255, 255, 255), "text": (32, 33, 36), "muted": (95, 99, 104),
              "strong": (0, 0, 0), "accent": (26, 115, 232), "on_accent": (255, 255, 255),
              "danger": (217, 48, 37), "divider": (218, 220, 224), "bar": (241, 243, 244),
              "keyboard": (226, 228, 231), "key": (255, 255, 255), "toast": (60, 64, 67),
              "on_toast": (241, 243, 244), "track": (189, 193, 198), "bubble_in": (232, 240, 254),
              "dialog": (255, 255, 255), "outline": (128, 134, 139)},
    "dark": {"bg": (32, 33, 36), "surface": (41, 42, 45), "text": (232, 234, 237), "muted": (154, 160, 166),
             "strong": (255, 255, 255), "accent": (138, 180, 248), "on_accent": (32, 33, 36),
             "danger": (242, 139, 130), "divider": (60, 64, 67), "bar": (24, 25, 27),
             "keyboard": (48, 49, 52), "key": (72, 73, 77), "toast": (232, 234, 237),
             "on_toast": (32, 33, 36), "track": (95, 99, 104), "bubble_in": (60, 64, 67),
             "dialog": (48, 49, 52), "outline": (154, 160, 166)},
}
TEXT_SIZES = {"caption": 36, "body": 44, "title": 56, "headline": 66, "display": 150}


def _keep_large_buffers() -> None:
    """Every frame allocates screen-sized buffers (7.8 MB at 1080x2400). glibc serves such sizes
    from fresh mmaps whose pages fault in one by one on first touch; in the threads that serve HTTP
    this made a frame 2.4x slower to render (17 ms against 7 ms, bench/phone.py). Raising the mmap
    and trim thresholds keeps them on the heap, reused. No library sets malloc options; glibc only."""
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return
    m_trim_threshold, m_mmap_threshold = -1, -3
    libc.mallopt(m_mmap_threshold, 64 * 1024 * 1024)
    libc.mallopt(m_trim_threshold, 256 * 1024 * 1024)


_keep_large_buffers()


@cache
def font(pixels: int) -> ImageFont.FreeTypeFont:
    """Pillow's bundled TrueType font at `pixels` (no system fonts needed)."""
    return ImageFont.load_default(size=pixels)


class Renderer:
    """Draws windows (view trees, bottom first) onto a `width` x `height` RGB screen."""

    def __init__(self, width: int, height: int) -> None:
        self.width, self.height = width, height
        self.scale = width / 1080

    def render(self, windows: list[View], theme: str = "light") -> np.ndarray:
        colors = PALETTES[theme]
        image = Image.new("RGB", (self.width, self.height), colors["bg"])
        draw = ImageDraw.Draw(image)
        for window in windows:
            for view in window.walk():
                if view.paint:
                    self._paint(draw, view, colors)
        return np.asarray(image)

    def px(self, value: float) -> int:
        return max(1, round(value * self.scale))

    # -- one view --------------------------------------------------------------------------------
    def _paint(self, draw: ImageDraw.ImageDraw, view: View, c: dict[str, Color]) -> None:
        kind, _, arg = view.paint.partition(":")
        b = view.bounds
        if b.right <= b.left or b.bottom <= b.top:
            return
        box = (b.left, b.top, b.right - 1, b.bottom - 1)
        tone = c.get(view.tone, c["text"]) if view.enabled else c["muted"]
        if kind == "fill":
            draw.rectangle(box, fill=c[arg])
        elif kind == "row":
            draw.rectangle(box, fill=c["surface"])
            draw.line((b.left + self.px(48), b.bottom - 1, b.right, b.bottom - 1), fill=c["divider"], width=1)
        elif kind == "text":
            self._text(draw, b, view.text or view.desc, tone, view.size, align="left")
        elif kind == "center":
            self._text(draw, b, view.text or view.desc, tone, view.size, align="center")
        elif kind == "button":
            fill = c["accent"] if view.enabled else c["track"]
            draw.rounded_rectangle(box, radius=min(b.height // 2, self.px(60)), fill=fill)
            self._text(draw, b, view.text, c["on_accent"], "body", align="center")
        elif kind == "textbutton":
            self._text(draw, b, view.text.upper(), c["danger"] if view.tone == "danger" else c["accent"],
                       "body", align="center")
        elif kind == "field":
            self._field(draw, view, c)
        elif kind == "switch":
            self._switch(draw, b, view.checked, c)
        elif kind == "checkbox":
            draw.rectangle(box, outline=c["accent"] if view.checked else c["outline"], width=self.px(6),
                           fill=c["accent"] if view.checked else None)
            if view.checked:
                self._glyph(draw, b, "check", c["on_accent"])
        elif kind == "slider":
            self._slider(draw, b, view.value, c)
        elif kind == "appicon":  # a launcher icon: a disc with the initial, the label below
            size = min(b.width, self.px(150))
            x = (b.left + b.right - size) // 2
            disc = Bounds(x, b.top, x + size, b.top + size)
            draw.ellipse((disc.left, disc.top, disc.right - 1, disc.bottom - 1), fill=_hue(view.text))
            self._text(draw, disc, view.text[:1], (255, 255, 255), "title", align="center")
            self._text(draw, Bounds(b.left, b.top + size + self.px(10), b.right, b.bottom), view.text, c["text"],
                       "caption", align="center")
        elif kind in ("avatar", "icon"):
            draw.ellipse(box, fill=_hue(arg or view.desc))
            self._text(draw, b, arg[:1], (255, 255, 255), "title", align="center")
        elif kind == "fab":
            draw.rounded_rectangle(box, radius=self.px(48), fill=c["accent"])
            self._glyph(draw, _inset(b, self.px(50)), arg, c["on_accent"])
        elif kind == "glyph":
            self._glyph(draw, _inset(b, self.px(30)), arg, tone if view.tone else c["text"])
        elif kind == "tab":
            self._text(draw, b, view.text, tone, "body", align="center")
            if view.selected:
                draw.rectangle((b.left + self.px(30), b.bottom - self.px(8), b.right - self.px(30), b.bottom - 1),
                               fill=c["accent"])
        elif kind == "bubble":
            mine = view.tone == "accent"
            draw.rounded_rectangle(box, radius=self.px(40), fill=c["accent"] if mine else c["bubble_in"])
            self._wrapped(draw, _inset(b, self.px(26)), view.text, c["on_accent"] if mine else c["text"], "caption",
                          middle=True)
        elif kind == "cell":
            if view.selected:
                draw.ellipse(_square(b), fill=c["accent"])
            elif view.tone == "today":
                draw.ellipse(_square(b), outline=c["accent"], width=self.px(5))
            self._text(draw, b, view.text, c["on_accent"] if view.selected else tone, "body", align="center")
            if view.checked:  # the day has events
                cx, y = (b.left + b.right) // 2, b.bottom - self.px(18)
                draw.ellipse((cx - self.px(8), y - self.px(8), cx + self.px(8), y + self.px(8)), fill=c["danger"])
        elif kind == "key":
            draw.rounded_rectangle(box, radius=self.px(14), fill=c["key"])
            self._text(draw, b, view.text or view.desc, c["text"], "body", align="center")
        elif kind == "panel":
            draw.rectangle(box, fill=c[arg or "surface"])
        elif kind == "dialog":
            draw.rounded_rectangle(box, radius=self.px(40), fill=c["dialog"], outline=c["outline"],
                                   width=self.px(4))
        elif kind == "toast":
            draw.rounded_rectangle(box, radius=b.height // 2, fill=c["toast"])
            self._text(draw, b, view.text, c["on_toast"], "body", align="center")

    def _text(self, draw: ImageDraw.ImageDraw, b: Bounds, text: str, color: Color, size: str, *,
              align: str) -> None:
        if not text:
            return
        face = font(self.px(TEXT_SIZES.get(size, 44)))
        text = _fit(text, face, b.width - self.px(8))
        y = (b.top + b.bottom) // 2
        if align == "center":
            draw.text(((b.left + b.right) // 2, y), text, fill=color, font=face, anchor="mm")
        else:
            draw.text((b.left, y), text, fill=color, font=face, anchor="lm")

    def _wrapped(self, draw: ImageDraw.ImageDraw, b: Bounds, text: str, color: Color, size: str, *,
                 middle: bool = False) -> None:
        """Text broken into lines at spaces, as many lines as the bounds hold (the last one cut),
        from the top, or centred vertically with `middle`."""
        face = font(self.px(TEXT_SIZES[size]))
        line_height = int(self.px(TEXT_SIZES[size]) * 1.25)
        room = max(1, b.height // line_height)
        lines: list[str] = []
        for paragraph in text.split("\n"):
            if len(lines) > room:
                break
            line = ""
            for word in paragraph.split(" "):
                if len(lines) > room:   # enough lines: the rest would only be cut
                    break
                candidate = f"{line} {word}".strip()
                if line and face.getlength(candidate) > b.width:
                    lines.append(line)
                    line = word
                else:
                    line = candidate
            lines.append(line)
        if len(lines) > room:
            lines = lines[:room - 1] + [" ".join(lines[room - 1:])]   # the rest, cut with an ellipsis below
        top = b.top + max(0, b.height - len(lines) * line_height) // 2 if middle else b.top
        for i, line in enumerate(lines):
            row = Bounds(b.left, top + i * line_height, b.right, top + (i + 1) * line_height)
            self._text(draw, row, line, color, size, align="left")

    def _field(self, draw: ImageDraw.ImageDraw, view: View, c: dict[str, Color]) -> None:
        b = view.bounds
        focused = view.focused
        draw.rectangle((b.left, b.top, b.right - 1, b.bottom - 1), fill=c["surface"])
        line = c["accent"] if focused else c["outline"]
        draw.rectangle((b.left, b.bottom - self.px(8 if focused else 4), b.right - 1, b.bottom - 1), fill=line)
        inner = _inset(b, self.px(24))
        shown = ("•" * len(view.text)) if view.password else view.text
        if shown and inner.height > 2 * self.px(TEXT_SIZES["body"]):   # a multi-line field (a note's body)
            self._wrapped(draw, inner, shown, c["text"], "body")
            return
        if shown:
            self._text(draw, inner, shown, c["text"], "body", align="left")
        else:
            self._text(draw, inner, view.hint, c["muted"], "body", align="left")
        if focused:  # the caret after the text
            face = font(self.px(TEXT_SIZES["body"]))
            x = min(inner.right - 1, inner.left + int(face.getlength(_fit(shown, face, inner.width))) + self.px(4))
            mid = (b.top + b.bottom) // 2
            draw.rectangle((x, mid - self.px(30), x + self.px(4), mid + self.px(30)), fill=c["accent"])

    def _switch(self, draw: ImageDraw.ImageDraw, b: Bounds, on: bool, c: dict[str, Color]) -> None:
        h = b.height
        track = (b.left, b.top + h // 4, b.right - 1, b.bottom - 1 - h // 4)
        draw.rounded_rectangle(track, radius=h // 4, fill=c["accent"] if on else c["track"])
        d = h - 2
        x = b.right - 1 - d if on else b.left
        draw.ellipse((x, b.top, x + d, b.top + d), fill=c["on_accent"] if on else c["surface"],
                     outline=c["accent"] if on else c["outline"], width=self.px(4))

    def _slider(self, draw: ImageDraw.ImageDraw, b: Bounds, value: float, c: dict[str, Color]) -> None:
        mid = (b.top + b.bottom) // 2
        x = b.left + round(value * (b.width - 1))
        draw.rectangle((b.left, mid - self.px(5), b.right - 1, mid + self.px(5)), fill=c["track"])
        draw.rectangle((b.left, mid - self.px(5), x, mid + self.px(5)), fill=c["accent"])
        r = self.px(26)
        draw.ellipse((x - r, mid - r, x + r, mid + r), fill=c["accent"])

    def _glyph(self, draw: ImageDraw.ImageDraw, b: Bounds, name: str, color: Color) -> None:
        """Icons as a few lines each: no icon font to ship."""
        w = self.px(7)
        x0, t, r, bt = b.left, b.top, b.right - 1, b.bottom - 1
        cx, cy = (x0 + r) // 2, (t + bt) // 2
        if name == "back":
            draw.line((x0, cy, r, cy), fill=color, width=w)
            draw.line((x0, cy, cx, t), fill=color, width=w)
            draw.line((x0, cy, cx, bt), fill=color, width=w)
        elif name in ("plus", "add"):
            draw.line((cx, t, cx, bt), fill=color, width=w)
            draw.line((x0, cy, r, cy), fill=color, width=w)
        elif name == "search":
            draw.ellipse((x0, t, x0 + (r - x0) * 2 // 3, t + (bt - t) * 2 // 3), outline=color, width=w)
            draw.line((x0 + (r - x0) * 3 // 5, t + (bt - t) * 3 // 5, r, bt), fill=color, width=w)
        elif name == "more":
            for y in (t + (bt - t) // 6, cy, bt - (bt - t) // 6):
                draw.ellipse((cx - w, y - w, cx + w, y + w), fill=color)
        elif name == "delete":
            draw.rectangle((x0 + (r - x0) // 5, t + (bt - t) // 4, r - (r - x0) // 5, bt), outline=color, width=w)
            draw.line((x0, t + (bt - t) // 6, r, t + (bt - t) // 6), fill=color, width=w)
        elif name == "edit":
            draw.line((x0, bt, r, t), fill=color, width=w * 2)
        elif name == "send":
            draw.polygon([(x0, t), (r, cy), (x0, bt), (x0 + (r - x0) // 4, cy)], fill=color)
        elif name == "check":
            draw.line((x0, cy, x0 + (r - x0) // 3, bt), fill=color, width=w)
            draw.line((x0 + (r - x0) // 3, bt, r, t), fill=color, width=w)
        elif name == "close":
            draw.line((x0, t, r, bt), fill=color, width=w)
            draw.line((x0, bt, r, t), fill=color, width=w)
        elif name == "left":
            draw.line((r, t, x0, cy), fill=color, width=w)
            draw.line((x0, cy, r, bt), fill=color, width=w)
        elif name == "right":
            draw.line((x0, t, r, cy), fill=color, width=w)
            draw.line((r, cy, x0, bt), fill=color, width=w)
        else:  # a round badge with the name's initial: alarm, timer, wifi...
            draw.ellipse((x0, t, r, bt), outline=color, width=w)
            self._text(draw, b, name[:1].upper(), color, "caption", align="center")


def _fit(text: str, face: ImageFont.FreeTypeFont, width: int) -> str:
    """`text`, cut with an ellipsis to fit `width` pixels (a binary search: a 2,000-character
    note must not cost thousands of measurements per frame)."""
    text = text.replace("\n", " ")[: max(1, width // 4)]   # no glyph is narrower than 4 px
    if width <= 0 or face.getlength(text) <= width:
        return text
    low, high = 0, len(text)
    while low < high:
        mid = (low + high + 1) // 2
        if face.getlength(text[:mid] + "…") <= width:
            low = mid
        else:
            high = mid - 1
    return text[:low] + "…"


def _inset(b: Bounds, d: int) -> Bounds:
    return Bounds(b.left + d, b.top + d, max(b.left + d + 1, b.right - d), max(b.top + d + 1, b.bottom - d))


def _square(b: Bounds) -> tuple[int, int, int, int]:
    side = min(b.width, b.height) - 4
    cx, cy = (b.left + b.right) // 2, (b.top + b.bottom) // 2
    return cx - side // 2, cy - side // 2, cx + side // 2, cy + side // 2


def _hue(name: str) -> Color:
    """A stable, saturated colour for a name (app icons, avatars)."""
    palette = [(26, 115, 232), (217, 48, 37), (30, 142, 62), (249, 171, 0), (161, 66, 244), (0, 137, 123),
               (232, 113, 10), (94, 53, 177)]
    return palette[sum(map(ord, name)) % len(palette)]


def encode_png(pixels: np.ndarray) -> bytes:
    """PNG bytes of an RGB screen, written by hand around zlib because speed matters here: a screen
    is a screenshot per agent step. Pillow picks a filter per row adaptively (35 ms at 1080x2400);
    a UI's rows mostly repeat the row above, so the fixed Up filter turns them into zeros that
    zlib's fastest level squeezes in under half that time, to a smaller file."""
    height, width, _ = pixels.shape
    rows = pixels.reshape(height, width * 3)
    raw = np.empty((height, width * 3 + 1), np.uint8)
    raw[0, 0], raw[1:, 0] = 0, 2                      # filter None for the first row, Up after
    raw[0, 1:] = rows[0]
    np.subtract(rows[1:], rows[:-1], out=raw[1:, 1:])  # uint8 arithmetic wraps, as PNG's Up filter does
    body = _deflate(raw.reshape(-1))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)  # 8-bit RGB, no interlace
    return b"".join([b"\x89PNG\r\n\x1a\n", _chunk(b"IHDR", header), _chunk(b"IDAT", body), _chunk(b"IEND", b"")])


_PARTS = 2
_pool: ThreadPoolExecutor | None = None


def _deflate(data: np.ndarray) -> bytes:
    """zlib-compress `data` at level 1 on two threads, as pigz does: each half is a raw deflate
    stream, the first ending on a full flush (byte-aligned, not final), so the halves join into one
    valid stream; zlib releases the GIL while it compresses. About half the time of one thread."""
    global _pool
    if _pool is None:
        _pool = ThreadPoolExecutor(_PARTS, thread_name_prefix="podium-png")
    cuts = [len(data) * i // _PARTS for i in range(_PARTS + 1)]

    def part(i: int) -> bytes:
        deflate = zlib.compressobj(1, zlib.DEFLATED, -15)
        last = i == _PARTS - 1
        return deflate.compress(data[cuts[i]:cuts[i + 1]]) + deflate.flush(zlib.Z_FINISH if last else zlib.Z_FULL_FLUSH)
    parts = list(_pool.map(part, range(_PARTS)))
    return b"\x78\x01" + b"".join(parts) + struct.pack(">I", zlib.adler32(data))


def _chunk(tag: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data))
