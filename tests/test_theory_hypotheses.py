"""A statement's hypotheses as a predicate of the run (``Statement.applies``,
theory.hypotheses): the check table asks it before a check runs, and its reason is the
record's."""

import math

import numpy as np

import numerics
import theory
from theory import STATEMENTS, hypotheses as hyp
from theory.context import RunContext


def _ctx(K=3.0, lam=0.5, steps=2, data=None):
    x = np.linspace(-2, 2, 21)
    p0 = np.exp(-x ** 2 / 2)
    r = -(x - 1) ** 2 / 2
    tr = numerics.evolve(p0, r, K, steps, lam, data, record_every=1)
    return RunContext(tr, r, data), tr, r


def test_every_statement_with_hypotheses_has_a_predicate():
    for s in STATEMENTS.values():
        assert callable(s.applies) and callable(s.check), s.id
        if not s.hypotheses.startswith("none"):
            assert s.applies is not hyp.always, s.id


def test_applies_gives_the_reason_the_report_carries():
    ctx, tr, r = _ctx(lam=0.5)
    assert STATEMENTS["T1"].applies(ctx) == ("section 3 statement: needs lam = inf (curated "
                                             "data only), got lam = 0.5")
    assert STATEMENTS["T5"].applies(ctx) is None and STATEMENTS["P1"].applies(ctx) is None
    assert STATEMENTS["T8"].applies(ctx) == "needs K = inf (finite K: see T9), got K = 3"
    report = theory.check(tr, r)
    for sid in STATEMENTS:
        reason = STATEMENTS[sid].applies(ctx)
        assert report[sid].applicable == (reason is None), sid
        if reason is not None:
            assert report[sid].reason == reason, sid


def test_curated_run_meets_section_3_only():
    ctx, _, _ = _ctx(K=math.inf, lam=math.inf, steps=1)
    assert STATEMENTS["T4"].applies(ctx) is None and STATEMENTS["T1"].applies(ctx) is None
    assert STATEMENTS["T5"].applies(ctx) == ("section 4 statement: needs a finite lam (real "
                                             "data), got lam = inf")
    assert STATEMENTS["T7.coupling"].applies(ctx) == "needs a finite K (K = inf: see T7.kinf)"
    ctx0, _, _ = _ctx(K=math.inf, lam=math.inf, steps=0)
    assert STATEMENTS["T1"].applies(ctx0) == "needs at least one step"


def test_combinators():
    class C:
        K, lam, steps = 2.0, 0.0, 3
    first = hyp.requires(lambda c: c.K > 2, lambda c: f"K = {c.K:g}")
    second = hyp.requires(lambda c: c.lam > 0, "lam = 0")
    assert hyp.all_of(first, second)(C) == "K = 2"
    assert hyp.all_of(second, first)(C) == "lam = 0"
    assert hyp.all_of()(C) is None and hyp.always(C) is None
    assert hyp.positive_finite_lam(C) == "needs 0 < lam < inf, got lam = 0"
