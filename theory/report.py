"""Check records and the report a run produces.

A :class:`CheckResult` holds one statement of THEORY.md against one run.  ``relation`` says
what the statement predicts about the measured number:

- ``"="``: ``measured = predicted``; ``slack = measured - predicted``; holds iff
  ``|slack| <= tolerance``;
- ``">="``: ``measured >= predicted``; ``slack = measured - predicted``;
- ``"<="``: ``measured <= predicted``; ``slack = predicted - measured``;

so for an inequality a positive slack is the margin by which it holds, and it holds iff
``slack >= -tolerance``.  Where a statement is checked at many points (cells, steps, reward
levels), the record shows the worst point: the one with the smallest ``slack / tolerance``
(the largest ``|slack| / tolerance`` for an identity); ``note`` says where it is.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field, asdict

import numpy as np

__all__ = ["CheckResult", "Report", "verdict", "worst_of", "combine", "not_applicable",
           "Where"]


@dataclass
class CheckResult:
    """One statement held against one run (see the module docstring for the fields)."""

    id: str
    statement: str
    applicable: bool
    reason: str = ""
    predicted: float | None = None
    measured: float | None = None
    slack: float | None = None
    holds: bool | None = None
    tolerance: float | None = None
    relation: str = ""
    note: str = ""
    details: dict = field(default_factory=dict)


def _statement(stmt_id):
    from .statements import STATEMENTS
    return STATEMENTS[stmt_id].statement


def not_applicable(stmt_id, reason, **details):
    """The record of a statement whose hypotheses this run does not meet."""
    return CheckResult(stmt_id, _statement(stmt_id), False, reason=reason, details=details)


def verdict(stmt_id, predicted, measured, relation, tolerance, note="", **details):
    """The record of one comparison (scalars)."""
    predicted, measured, tolerance = float(predicted), float(measured), float(tolerance)
    if relation == "<=":
        slack = predicted - measured
    elif relation in ("=", ">="):
        slack = measured - predicted
    else:
        raise ValueError(f"relation must be '=', '>=' or '<=', got {relation!r}")
    if math.isnan(slack):
        holds = False
    elif relation == "=":
        holds = abs(slack) <= tolerance
    else:
        holds = slack >= -tolerance
    return CheckResult(stmt_id, _statement(stmt_id), True, predicted=predicted,
                       measured=measured, slack=slack, holds=bool(holds), tolerance=tolerance,
                       relation=relation, note=note, details=details)


def worst_of(stmt_id, predicted, measured, relation, tolerance, where=None, note="",
             trivial=None, **details):
    """The record of a comparison at many points: arrays ``predicted``, ``measured``,
    ``tolerance`` (broadcast); ``where[i]`` describes point ``i`` (e.g. ``"t=3"``).  The
    record shows the worst point and holds iff every point holds.

    ``trivial``: a mask of the points where the statement is tight by construction (a CDF at
    the top reward level, two rewards equal up to rounding, ``t = 0``): they must hold like
    the others but are shown as the worst point only if one fails, so that the row never
    shows roundoff at a place where there was nothing to prove."""
    pred, meas, tol = np.broadcast_arrays(np.asarray(predicted, dtype=float),
                                          np.asarray(measured, dtype=float),
                                          np.asarray(tolerance, dtype=float))
    pred, meas, tol = pred.ravel(), meas.ravel(), tol.ravel()
    if pred.size == 0:
        raise ValueError("nothing to compare")
    slack = pred - meas if relation == "<=" else meas - pred
    with np.errstate(divide="ignore", invalid="ignore"):
        score = -np.abs(slack) / tol if relation == "=" else slack / tol
    score = np.where(np.isnan(slack), -np.inf, score)
    hidden = 0
    if trivial is not None:
        triv = np.broadcast_to(np.asarray(trivial, dtype=bool).ravel(), pred.shape)
        ok = np.abs(slack) <= tol if relation == "=" else slack >= -tol
        shown = ~triv | ~ok
        if shown.any():
            hidden = int((~shown).sum())
            score = np.where(shown, score, np.inf)
    i = int(np.argmin(score))
    where_i = where(i) if callable(where) else (where[i] if where is not None else None)
    text = f"worst at {where_i}" if where_i is not None else ""
    if note:
        text = f"{text}; {note}" if text else note
    if hidden:
        text += f" ({hidden} trivially tight points not shown)"
    rec = verdict(stmt_id, pred[i], meas[i], relation, tol[i], text, **details)
    if rec.holds:  # every point must hold, not only the worst by score
        ok = np.abs(slack) <= tol if relation == "=" else slack >= -tol
        rec.holds = bool(np.all(ok))
    return rec


class Where:
    """Lazy descriptions of the points of a many-point comparison, in blocks: ``add(n, f)``
    appends ``n`` points, point ``j`` of the block described by ``f(j)`` (only the worst
    point is ever described)."""

    def __init__(self):
        self._blocks = []
        self._size = 0

    def add(self, n, describe):
        self._blocks.append((self._size, int(n), describe))
        self._size += int(n)
        return self

    def __len__(self):
        return self._size

    def __call__(self, i):
        for start, n, describe in self._blocks:
            if start <= i < start + n:
                return describe(i - start)
        raise IndexError(i)


def _score(rec):
    if rec.relation == "=":
        return -abs(rec.slack) / rec.tolerance
    return rec.slack / rec.tolerance


def combine(records):
    """Several comparisons of one statement: the worst record (by ``slack / tolerance``),
    which holds iff all of them hold."""
    recs = [r for r in records if r is not None]
    worst = min(recs, key=lambda r: (bool(r.holds), _score(r)))
    worst.holds = all(r.holds for r in recs)
    return worst


def _fmt(value):
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "NO"
    return f"{value:.6g}"


#: the columns of :meth:`Report.to_csv` and :meth:`Report.to_frame` after the parameters
RECORD_COLUMNS = ("id", "statement", "applicable", "reason", "predicted", "measured", "slack",
                  "holds", "tolerance", "relation", "note")


class Report:
    """The results of :func:`theory.check`: ``results`` (list of :class:`CheckResult`),
    ``all_hold`` (every applicable check holds), ``parameters`` (the run's scenario, ``K``,
    ``lam``, ``steps``, ``grid`` and scenario parameters), ``to_table()``, ``to_json()``,
    ``to_csv()``, ``to_frame()`` (pandas): one record per statement, each carrying the run's
    parameters (tidy data: reports of many runs concatenate into one table)."""

    def __init__(self, results, title="", parameters=None, summary=None):
        self.results = list(results)
        self.title = title
        self.parameters = dict(parameters or {})
        #: what the run reached (``E_T[r]``, the top level's mass, the distance to ``p_d``)
        self.summary = dict(summary or {})

    @property
    def all_hold(self):
        return all(r.holds for r in self.results if r.applicable)

    def __getitem__(self, stmt_id):
        for r in self.results:
            if r.id == stmt_id:
                return r
        raise KeyError(stmt_id)

    def failures(self):
        return [r for r in self.results if r.applicable and not r.holds]

    def to_table(self, width=48):
        """A plain-text table: a summary block (the run's parameters and what it reached),
        then id | statement | applicable | predicted | measured | slack | tolerance | holds,
        then one line per note or reason.  Statements longer than ``width`` characters are
        cut (``width=None``: the full statement, as ``selfconsume check --wide``)."""
        head = ("id", "statement", "applicable", "predicted", "measured", "slack",
                "tolerance", "holds")
        rows = []
        for r in self.results:
            stmt = (r.statement if width is None or len(r.statement) <= width
                    else r.statement[:width - 3] + "...")
            rows.append((r.id, stmt, "yes" if r.applicable else "no",
                         _fmt(r.predicted), _fmt(r.measured), _fmt(r.slack),
                         _fmt(r.tolerance), _fmt(r.holds) if r.applicable else "n/a"))
        widths = [max(len(h), *(len(row[j]) for row in rows)) for j, h in enumerate(head)]

        def line(cells):
            return " | ".join(c.ljust(w) for c, w in zip(cells, widths)).rstrip()

        out = [self.title] if self.title else []
        if self.parameters:
            out.append("run: " + ", ".join(f"{k} = {_fmt_param(v)}"
                                           for k, v in self.parameters.items()))
        if self.summary:
            out.append("reached: " + ", ".join(f"{k} = {_fmt_param(v)}"
                                               for k, v in self.summary.items()))
        if self.parameters or self.summary:
            out.append("")
        out += [line(head), "-+-".join("-" * w for w in widths)]
        out += [line(row) for row in rows]
        notes = [(r.id, r.note if r.applicable else f"not applicable: {r.reason}")
                 for r in self.results if (r.note if r.applicable else r.reason)]
        if notes:
            out.append("")
            out += [f"{i}: {text}" for i, text in notes]
        n_app = sum(r.applicable for r in self.results)
        n_fail = len(self.failures())
        out.append("")
        out.append(f"{n_app} applicable checks, {n_app - n_fail} hold, {n_fail} fail"
                   + ("" if n_fail == 0 else ": " + ", ".join(r.id for r in self.failures())))
        return "\n".join(out)

    def to_dict(self):
        params = _jsonable(self.parameters)
        return {"title": self.title, "all_hold": self.all_hold, "parameters": params,
                "summary": _jsonable(self.summary),
                "results": [{**_jsonable(asdict(r)), "parameters": params}
                            for r in self.results]}

    def rows(self):
        """One flat dict per record: the parameters, then :data:`RECORD_COLUMNS`."""
        rows = []
        for r in self.results:
            rec = asdict(r)
            rows.append({**self.parameters, **{k: rec[k] for k in RECORD_COLUMNS}})
        return rows

    def to_csv(self):
        """The records as CSV (header row; parameters first; empty cell for ``None``)."""
        import csv
        import io
        buf = io.StringIO()
        columns = [*self.parameters, *RECORD_COLUMNS]
        writer = csv.DictWriter(buf, fieldnames=columns, lineterminator="\n")
        writer.writeheader()
        for row in self.rows():
            writer.writerow({k: "" if v is None else v for k, v in row.items()})
        return buf.getvalue()

    def to_frame(self):
        """The records as a ``pandas.DataFrame`` (needs pandas): one row per statement,
        the run's parameters as columns."""
        try:
            import pandas as pd
        except ImportError:
            raise ImportError("Report.to_frame needs pandas (pip install pandas)") from None
        return pd.DataFrame(self.rows(), columns=[*self.parameters, *RECORD_COLUMNS])

    def to_json(self, indent=2):
        return json.dumps(self.to_dict(), indent=indent, allow_nan=False)


def _fmt_param(v):
    if isinstance(v, (float, np.floating)):
        return "inf" if math.isinf(v) else f"{float(v):.6g}"
    return str(v)


def _jsonable(obj):
    """Floats that JSON cannot hold (inf, nan) become strings; numpy scalars become floats."""
    if isinstance(obj, dict):
        return {k: _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, (bool, np.bool_)):
        return bool(obj)
    if isinstance(obj, (int, np.integer)):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        f = float(obj)
        return f if math.isfinite(f) else str(f)
    return obj
