"""``selfconsume heatmap`` and ``selfconsume figures``: exit codes, files written, one-line
errors."""

import numpy as np
import pytest

from figures import GALLERY


def _png(path):
    return path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.slow  # a figure, a sympy proof or an mpmath reference: seconds
def test_heatmap_mog8_writes_png_and_pdf(tmp_path, cli):
    out = tmp_path / "h"
    res = cli("heatmap", "--scenario", "mog8", "--grid", "24", "--out", str(out))
    assert res.code == 0
    assert _png(out / "heatmap-mog8.png")
    assert (out / "heatmap-mog8.pdf").read_bytes()[:5] == b"%PDF-"
    assert sorted(p.name for p in out.iterdir()) == ["heatmap-mog8.pdf", "heatmap-mog8.png"]
    assert res.out.split() == [str(out / "heatmap-mog8.png"), str(out / "heatmap-mog8.pdf")]


def test_heatmap_default_is_mog8_and_1d_is_drawn(tmp_path, cli):
    res = cli("heatmap", "--grid", "16", "--out", str(tmp_path), "--format", "png")
    assert res.code == 0
    res = cli("heatmap", "--scenario", "gauss1d", "--grid", "101", "--steps", "3",
              "--out", str(tmp_path), "--format", "png")
    assert res.code == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["heatmap-gauss1d.png",
                                                          "heatmap-mog8.png"]


def test_bad_out_format_and_scenario_exit_2_with_one_line(tmp_path, cli):
    afile = tmp_path / "file.txt"
    afile.write_text("x")
    for argv, opt in ((["heatmap", "--out", str(afile)], "--out"),
                      (["figures", "--out", str(afile)], "--out"),
                      (["heatmap", "--out", str(tmp_path), "--format", "svg"], "--format"),
                      (["heatmap", "--scenario", "nope", "--out", str(tmp_path)], "--scenario"),
                      (["heatmap"], "--out")):
        res = cli(*argv)
        assert res.code == 2
        err = res.err
        assert err.count("\n") == 1 and opt in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file.txt"]


@pytest.mark.slow
def test_figures_quick_writes_the_whole_gallery(tmp_path, cli):
    res = cli("figures", "--quick", "--out", str(tmp_path))
    assert res.code == 0
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == sorted(f"{e.name}.{ext}" for e in GALLERY for ext in ("png", "pdf"))
    assert all(_png(tmp_path / f"{e.name}.png") for e in GALLERY)
    assert np.all([(tmp_path / n).stat().st_size > 0 for n in names])
