"""Training curves as an SVG file, written without any plotting library.

One panel per quantity (loss, accuracy, ...), epochs along x, a line for the
training split and one for the validation split where they were logged.
Writing it costs about a millisecond, where matplotlib needs a third of a
second to import and a quarter of a second to draw its first figure: on a
run of a few seconds that is most of the time outside the model.  Any
browser shows the file; ``logging.plot_format: png`` draws ``curves.png``
with matplotlib instead.

>>> rows = [{"epoch": 1, "train.loss": 1.0, "valid.loss": 1.2},
...         {"epoch": 2, "train.loss": 0.5, "valid.loss": 0.9}]
>>> svg = curves_svg(rows)
>>> svg.startswith("<svg") and svg.count("<polyline") == 2
True
"""
import math
import os
from xml.sax.saxutils import escape

__all__ = ["curves_svg", "write_svg", "panels"]

_WIDTH, _HEIGHT = 360, 260          # one panel, in pixels
_LEFT, _RIGHT, _TOP, _BOTTOM = 58, 12, 28, 36
_COLOURS = {"train": "#1f77b4", "valid": "#ff7f0e"}


def panels(rows):
    """``{quantity: {split: [(epoch, value), ...]}}`` of the finite values logged."""
    quantities = sorted({k.split(".", 1)[1] for r in rows for k in r if "." in k})
    result = {}
    for quantity in quantities:
        lines = {}
        for split in _COLOURS:
            points = [(r["epoch"], r[f"{split}.{quantity}"]) for r in rows
                      if isinstance(r.get(f"{split}.{quantity}"), (int, float))
                      and math.isfinite(r[f"{split}.{quantity}"])]
            if points:
                lines[split] = points
        if lines:
            result[quantity] = lines
    return result


def _ticks(low, high, count=5):
    """About ``count`` round numbers covering [low, high]."""
    if high <= low:
        return [low]
    step = 10 ** math.floor(math.log10((high - low) / count))
    for factor in (1, 2, 2.5, 5, 10):
        if (high - low) / (step * factor) <= count:
            step *= factor
            break
    first = math.ceil(low / step) * step
    return [first + k * step for k in range(int((high - first) / step + 1e-9) + 1)]


def _label(value):
    return f"{value:.4g}"


def _panel(quantity, lines, x0):
    """The SVG elements of one panel whose left edge is at ``x0``."""
    epochs = [e for points in lines.values() for e, _ in points]
    values = [v for points in lines.values() for _, v in points]
    e_low, e_high = min(epochs), max(max(epochs), min(epochs) + 1)
    v_low, v_high = min(values), max(values)
    if v_high == v_low:
        v_low, v_high = v_low - 0.5, v_high + 0.5
    width, height = _WIDTH - _LEFT - _RIGHT, _HEIGHT - _TOP - _BOTTOM

    def x(epoch):
        return x0 + _LEFT + width * (epoch - e_low) / (e_high - e_low)

    def y(value):
        return _TOP + height * (v_high - value) / (v_high - v_low)

    out = [f'<text x="{x0 + _WIDTH / 2:.1f}" y="18" text-anchor="middle" '
           f'font-weight="bold">{escape(quantity)}</text>',
           f'<rect x="{x0 + _LEFT}" y="{_TOP}" width="{width}" height="{height}" '
           'fill="none" stroke="#888"/>']
    for tick in _ticks(v_low, v_high):
        out.append(f'<line x1="{x0 + _LEFT - 4}" x2="{x0 + _LEFT + width}" y1="{y(tick):.1f}" '
                   f'y2="{y(tick):.1f}" stroke="#ddd"/>')
        out.append(f'<text x="{x0 + _LEFT - 6}" y="{y(tick) + 4:.1f}" text-anchor="end">'
                   f'{_label(tick)}</text>')
    for tick in _ticks(e_low, e_high):
        if tick == int(tick):
            out.append(f'<text x="{x(tick):.1f}" y="{_TOP + height + 16}" '
                       f'text-anchor="middle">{int(tick)}</text>')
    out.append(f'<text x="{x0 + _LEFT + width / 2:.1f}" y="{_HEIGHT - 4}" '
               'text-anchor="middle">epoch</text>')
    for k, (split, points) in enumerate(lines.items()):
        coords = " ".join(f"{x(e):.1f},{y(v):.1f}" for e, v in points)
        out.append(f'<polyline points="{coords}" fill="none" stroke="{_COLOURS[split]}" '
                   'stroke-width="1.5"/>')
        out.append(f'<text x="{x0 + _LEFT + width - 4}" y="{_TOP + 14 + 14 * k}" '
                   f'text-anchor="end" fill="{_COLOURS[split]}">{split}</text>')
    return out


def curves_svg(rows):
    """The SVG document of the curves of ``rows`` (metrics.jsonl rows); None when there is
    nothing to draw."""
    drawn = panels(rows)
    if not drawn:
        return None
    body = []
    for k, (quantity, lines) in enumerate(drawn.items()):
        body += _panel(quantity, lines, k * _WIDTH)
    width = _WIDTH * len(drawn)
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{_HEIGHT}" '
            f'viewBox="0 0 {width} {_HEIGHT}" font-family="sans-serif" font-size="11">\n'
            f'<rect width="{width}" height="{_HEIGHT}" fill="white"/>\n'
            + "\n".join(body) + "\n</svg>\n")


def write_svg(directory, rows):
    """Write ``curves.svg`` in ``directory``; returns its path (None: nothing to draw)."""
    svg = curves_svg(rows)
    if svg is None:
        return None
    path = os.path.join(directory, "curves.svg")
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(svg)
    return path
