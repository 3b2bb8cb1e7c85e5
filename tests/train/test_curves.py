"""curves.svg: the training curves, drawn without a plotting library."""
import json
import xml.etree.ElementTree as ET

from nnframe.train import run
from nnframe.train.curves import curves_svg, panels

from .helpers import write_recipe

SVG = "{http://www.w3.org/2000/svg}"


def test_a_run_draws_one_panel_per_quantity_with_a_line_per_split(tmp_path):
    out = tmp_path / "run"
    run(write_recipe(tmp_path), ["train.epochs=4"], out=str(out))
    root = ET.parse(out / "curves.svg").getroot()            # well-formed XML
    titles = [t.text for t in root.iter(f"{SVG}text") if t.get("font-weight") == "bold"]
    assert titles == ["accuracy", "loss"]
    lines = list(root.iter(f"{SVG}polyline"))
    assert len(lines) == 3                      # train.loss, valid.loss, valid.accuracy
    rows = [json.loads(r) for r in (out / "metrics.jsonl").read_text().splitlines()]
    assert all(len(line.get("points").split()) == len(rows) for line in lines)
    assert not (out / "curves.png").exists()


def test_the_lines_follow_the_values():
    rows = [{"epoch": e, "train.loss": v} for e, v in ((1, 3.0), (2, 1.0), (3, 2.0))]
    root = ET.fromstring(curves_svg(rows))
    points = [tuple(map(float, p.split(","))) for p in
              next(root.iter(f"{SVG}polyline")).get("points").split()]
    xs, ys = zip(*points)
    assert xs[0] < xs[1] < xs[2]
    assert ys[1] > ys[2] > ys[0]               # SVG's y grows downwards: 1.0 lowest on screen


def test_non_finite_and_missing_values_are_left_out_and_text_is_escaped():
    rows = [{"epoch": 1, "train.loss": float("nan"), "valid.a<b&c": 0.5},
            {"epoch": 2, "train.loss": 1.0, "valid.a<b&c": None}]
    assert panels(rows) == {"a<b&c": {"valid": [(1, 0.5)]}, "loss": {"train": [(2, 1.0)]}}
    root = ET.fromstring(curves_svg(rows))
    assert "a<b&c" in [t.text for t in root.iter(f"{SVG}text")]
    assert curves_svg([]) is None and curves_svg([{"epoch": 1}]) is None


def test_png_with_matplotlib_on_request(tmp_path):
    out = tmp_path / "run"
    run(write_recipe(tmp_path), ["train.epochs=2", "logging.plot_format=png"], out=str(out))
    assert (out / "curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not (out / "curves.svg").exists()
