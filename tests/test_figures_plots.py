"""Figures: the numbers drawn are the engine's (read back from the matplotlib objects and
compared with engine calls and closed forms made here), images are written atomically."""

import dataclasses
import math

import mpmath
import numpy as np
import pytest
from matplotlib.image import AxesImage

import numerics
from figures import data, demo_figure, save_figure
from figures.curves import plot_class_shares, plot_reward_bounds
from figures.heatmaps import plot_iteration_rows, plot_limit_panels
from figures.phase import plot_condensation_phase, plot_contraction_phase
from numerics.scenarios import get_scenario

from _references import kingman_i

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _images(fig):
    return [a for ax in fig.axes for a in ax.get_children() if isinstance(a, AxesImage)]


def _is_png(path):
    with open(path, "rb") as f:
        head = f.read(8)
    return head == PNG_SIGNATURE


@pytest.mark.slow
def test_importing_figures_leaves_the_backend_alone(tmp_path):
    """No ``matplotlib.use`` anywhere: a user's backend (here svg, set before the import)
    stays, and figures are still written (the canvas comes from the file format)."""
    import os
    import subprocess
    import sys
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    code = ("import matplotlib; matplotlib.use('svg'); import sys; import figures; "
            "from figures.style import new_figure; fig = new_figure(2, 2); "
            "fig.add_subplot().plot([0, 1]); "
            "figures.save_figure(fig, sys.argv[1], 'f', ('png', 'pdf')); "
            "print(matplotlib.get_backend())")
    proc = subprocess.run([sys.executable, "-c", code, str(tmp_path)], capture_output=True,
                          text=True, timeout=120, env=dict(os.environ, PYTHONPATH=root))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "svg"
    assert _is_png(tmp_path / "f.png") and (tmp_path / "f.pdf").read_bytes()[:5] == b"%PDF-"


def test_limit_panels_plot_p0_and_the_t3_limit(tmp_path):
    sc = get_scenario("mog8", grid=32)
    fig = plot_limit_panels(data.limit_panels(sc))
    reward_img, p0_img, lim_img = _images(fig)
    area = (12.0 / 32) ** 2                    # [-6, 6]^2 cut in 32 x 32 cells
    p0 = sc.mass / sc.mass.sum()
    np.testing.assert_allclose(reward_img.get_array().T, sc.reward, rtol=0, atol=0)
    np.testing.assert_allclose(p0_img.get_array().T, p0 / area, rtol=1e-14)
    # T3 closed form, written out here: p_0 restricted to {r = max r}, renormalized
    top = sc.reward == sc.reward.max()
    expected = np.where(top, p0, 0.0) / p0[top].sum()
    lim = numerics.limit(sc.mass, sc.reward, sc.K)
    np.testing.assert_allclose(lim_img.get_array().T, lim.mass / area, rtol=1e-14)
    np.testing.assert_allclose(lim_img.get_array().T * area, expected, rtol=1e-12, atol=1e-300)
    # p_0 and the limit share one log colour scale with floor 1e-6 of the larger max
    assert p0_img.norm is lim_img.norm
    assert lim_img.norm.vmax == pytest.approx(expected.max() / area, rel=1e-12)
    assert lim_img.norm.vmin == pytest.approx(1e-6 * lim_img.norm.vmax, rel=1e-12)
    (path,) = save_figure(fig, tmp_path, "fig1")
    assert _is_png(path) and (tmp_path / "fig1.png").stat().st_size > 1000


def test_iteration_rows_are_evolve_masses():
    sc = get_scenario("two-moons", grid=32)
    rows = data.iteration_rows(sc, steps=(0, 2, 5), lams=(math.inf, 1.0))
    fig = plot_iteration_rows(rows)
    imgs = _images(fig)
    assert len(imgs) == 6
    area = (4.0 / 32) * (3.0 / 32)             # x in [-1.5, 2.5], y in [-1.25, 1.75]
    for row, lam in enumerate((math.inf, 1.0)):
        traj = numerics.evolve(sc.mass, sc.reward, sc.K, 5, lam=lam)
        for col, t in enumerate((0, 2, 5)):
            np.testing.assert_allclose(imgs[3 * row + col].get_array().T,
                                       traj.masses[t] / area, rtol=1e-12, atol=1e-300)
            top = sc.reward == sc.reward.max()
            assert rows.top_share[row][col] == pytest.approx(traj.masses[t][top].sum(), rel=1e-12)
    vmax = max(img.get_array().max() for img in imgs)
    assert all(img.norm.vmax == vmax for img in imgs)


def test_reward_bounds_lines_are_the_engine_and_t1_t2_by_hand():
    sc = get_scenario("gauss1d", grid=201)
    Ks = (2.0, math.inf)
    rb = data.reward_bounds(sc, Ks=Ks, steps=6)
    fig = plot_reward_bounds(rb)
    ax_e, ax_v = fig.axes[:2]
    lines = [ln for ln in ax_e.get_lines() if len(ln.get_ydata()) > 1]
    for k, K in enumerate(Ks):
        traj = numerics.evolve(sc.mass, sc.reward, K, 6)
        e, v = traj.expected_exp_reward, traj.var_exp_reward
        exact, bound = lines[2 * k], lines[2 * k + 1]
        np.testing.assert_allclose(exact.get_ydata(), e, rtol=1e-13)
        es = math.exp(sc.reward.max())                      # e^{r_*}
        factor = 1.0 if math.isinf(K) else (K - 1) / K     # T1
        np.testing.assert_allclose(bound.get_ydata(), e[:-1] + factor * v[:-1] / es, rtol=1e-13)
        assert np.all(bound.get_ydata() <= e[1:] * (1 + 1e-13))   # T1 holds
        budget = (1.0 if math.isinf(K) else K / (K - 1)) * es * (es - e[0])   # T2
        cum = [ln for ln in ax_v.get_lines() if len(ln.get_ydata()) > 2][k]
        np.testing.assert_allclose(cum.get_ydata(), np.cumsum(v), rtol=1e-13)
        hlines = [ln for ln in ax_v.get_lines() if len(set(np.ravel(ln.get_ydata()))) == 1
                  and len(ln.get_ydata()) == 2]
        assert hlines[k].get_ydata()[0] == pytest.approx(budget, rel=1e-13)


def test_class_shares_sum_to_one_and_stack_the_engine_masses():
    sc = get_scenario("classes", grid=12)
    cs = data.class_shares(sc, lams=(math.inf, 1.0), steps=5)
    for lam, shares in zip(cs.lams, cs.shares):
        traj = numerics.evolve(sc.mass, sc.reward, sc.K, 5, lam=lam)
        by_row = np.array([m.sum(axis=1) for m in traj.masses])   # class c = row c
        np.testing.assert_allclose(shares, by_row, rtol=1e-13)
        np.testing.assert_allclose(shares.sum(axis=1), 1.0, rtol=1e-13)
    # without real data the most confidently classified class gains, with it much less
    gain = [s[-1, 9] - s[0, 9] for s in cs.shares]
    assert gain[0] > gain[1] > 0
    fig = plot_class_shares(cs)
    top = fig.axes[0].collections[-1].get_paths()[0].vertices
    for t, cum in enumerate(np.cumsum(cs.shares[0], axis=1)[:, -2]):
        assert np.any(np.isclose(top[:, 0], t) & np.isclose(top[:, 1], cum, rtol=1e-12))


def _mp_condensate(b, lam):
    """``(max(0, 1 - I), J)``: T8's condensate and ``J = (1 + lam) I`` (Kingman's I at 30
    digits, tests/_references.py)."""
    J = kingman_i(b)
    return max(mpmath.mpf(0), 1 - J / (1 + lam)), J


def test_condensation_phase_matches_mpmath_and_boundary_is_J_minus_1():
    lams, bs = np.array([0.5, 3.0, 8.0]), np.array([1.5, 3.0])
    cp = data.condensation_phase(lams=lams, b=bs, boundary_b=bs)
    mesh = plot_condensation_phase(cp).axes[0].collections[0]
    plotted = np.asarray(mesh.get_array()).reshape(bs.size, lams.size)
    for i, b in enumerate(bs):
        for j, lam in enumerate(lams):
            want, J = _mp_condensate(b, lam)
            assert plotted[i, j] == pytest.approx(float(want), abs=1e-9)
        # critical lam: I(lam, b) = J/(1+lam) = 1
        assert cp.boundary_lam[i] == pytest.approx(float(J - 1), rel=1e-9)
    assert cp.example[2] == pytest.approx(float(_mp_condensate(3.0, 3.0)[0]), abs=1e-9)


def test_measured_contraction_factor_recovers_a_geometric_rate():
    q = 0.37
    tv = 0.8 * q ** np.arange(40)
    assert data.measured_contraction_factor(tv) == pytest.approx(q, rel=1e-12)
    assert math.isnan(data.measured_contraction_factor([1.0, 1e-12]))


def test_contraction_phase_is_within_t7_inside_the_region():
    sc = get_scenario("gauss1d", grid=21, width=3.0)
    lams, Ks = np.array([0.2, 0.5]), np.array([1.5, 2.5])
    cp = data.contraction_phase(sc, lams=lams, K=Ks, steps=30)
    fig = plot_contraction_phase(cp)
    mesh = [c for c in fig.axes[0].collections if hasattr(c, "get_array")
            and c.get_array() is not None and np.size(c.get_array()) == 4][0]
    np.testing.assert_allclose(np.ma.filled(mesh.get_array(), np.nan).reshape(2, 2),
                               cp.factor, rtol=0)
    for i, K in enumerate(Ks):
        for j, lam in enumerate(lams):
            assert lam * (K - 1) < 1
            lim = numerics.limit(sc.mass, sc.reward, K, lam)
            traj = numerics.evolve(sc.mass, sc.reward, K, 30, lam=lam)
            tv = np.array([0.5 * np.abs(m - lim.mass).sum() for m in traj.masses])
            # same TV up to the rounding of renormalizing masses that sum to 1 (~1e-16)
            np.testing.assert_allclose(cp.tv[i, j], tv, rtol=1e-12, atol=1e-15)
            assert cp.factor[i, j] <= lam * K / (1 + lam)           # T7's kappa


def test_a_limit_that_is_not_a_fixed_point_is_refused(monkeypatch):
    sc = get_scenario("gauss1d", grid=21, width=3.0, lam=0.5)
    good = numerics.limit(sc.mass, sc.reward, sc.K, 0.5)
    data._limit_of(sc)                                               # accepted
    wrong = dataclasses.replace(good, mass=sc.mass / sc.mass.sum(), detail="deliberately wrong")
    monkeypatch.setattr(numerics, "limit", lambda *a, **k: wrong)
    with pytest.raises(RuntimeError, match="not a fixed point"):
        data._limit_of(sc)


@pytest.mark.slow  # a figure, a sympy proof or an mpmath reference: seconds
def test_save_is_atomic_and_leaves_nothing_on_error(tmp_path):
    fig = plot_limit_panels(data.limit_panels(get_scenario("mog8", grid=16)))
    used = []

    class Boom(Exception):
        pass

    def recording(path):
        from numerics.atomic import atomic_path
        used.append(path)
        return atomic_path(path)

    paths = save_figure(fig, tmp_path, "x", ("png", "pdf"), atomic=recording)
    assert used == paths and _is_png(paths[0])
    assert open(paths[1], "rb").read(5) == b"%PDF-"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.pdf", "x.png"]

    def failing_savefig(*a, **k):
        with open(a[0], "wb") as f:
            f.write(b"half")
        raise Boom

    fig.savefig = failing_savefig
    with pytest.raises(Boom):
        save_figure(fig, tmp_path / "sub", "y")
    assert list((tmp_path / "sub").iterdir()) == []
    with pytest.raises(ValueError, match="formats"):
        save_figure(fig, tmp_path, "z", ("svg",))


def test_demo_figure_2d_and_1d(tmp_path):
    p2 = demo_figure(get_scenario("mog8", grid=24), tmp_path)
    p1 = demo_figure(get_scenario("gauss1d", grid=101, steps=4), tmp_path)
    assert [p.rsplit("/", 1)[1] for p in p2 + p1] == ["heatmap-mog8.png", "heatmap-gauss1d.png"]
    assert all(_is_png(p) for p in p2 + p1)
