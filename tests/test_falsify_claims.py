"""The counterexample finder (theory.falsify), the claims registry (theory.claims) and
``selfconsume falsify``.

- ``mixing-reward-monotone`` is refuted and the shrunk counterexample is confirmed by an
  independent exact computation (Fractions, L1 enumerated by ``numerics.exact``);
- T1, T5, T6, T7 survive a search;
- a user-registered claim works end to end (Python API and ``--module``);
- every built-in checker reports a violation when the engine is deliberately wrong.
"""

import json
import math
from fractions import Fraction

import numpy as np
import pytest

import numerics
from numerics.exact import retrain_step_exact
from theory.claims import (Instance, InstanceSpace, get_claim, list_claims, register_claim,
                           unregister_claim)
from theory.falsify import falsify


def _exact_mean_s(mass, ints, K, lam, data, steps):
    """E_{p_t}[s] for t = 0..steps in exact rationals (s_i = n_i / max n)."""
    s = [Fraction(n, max(ints)) for n in ints]
    p = [Fraction(m) for m in mass]
    p = [x / sum(p) for x in p]
    out = [sum(a * b for a, b in zip(p, s))]
    for _ in range(steps):
        if math.isinf(K):  # L3: p s / E_p[s]
            c = [a * b / out[-1] for a, b in zip(p, s)]
            d = [Fraction(x) / sum(Fraction(y) for y in data) for x in data]
            p = [(dj + Fraction(lam) * cj) / (1 + Fraction(lam)) for dj, cj in zip(d, c)]
        else:
            p = retrain_step_exact(p, s, int(K), Fraction(lam), data)
        out.append(sum(a * b for a, b in zip(p, s)))
    return out


@pytest.mark.slow
def test_mixing_reward_monotone_is_refuted_and_confirmed_exactly(cli):
    code, out, err = cli("falsify", "mixing-reward-monotone", "--json")
    assert code == 1
    res = json.loads(out)
    assert res["claim"] == "mixing-reward-monotone" and res["found"] is True
    ce = res["counterexample"]
    assert 1 <= len(ce["mass"]) <= 4                      # shrunk to a handful of atoms
    assert ce["exp_reward"] is not None                   # rewards = log(small integers)
    assert all(float(m).is_integer() for m in ce["mass"] + ce["data"])
    K = math.inf if ce["K"] == "inf" else ce["K"]
    # independent check, exact: E_t[s] strictly decreases at some step
    E = _exact_mean_s(ce["mass"], ce["exp_reward"], K, Fraction(ce["lam"]).limit_denominator(),
                      ce["data"], ce["step"])
    drops = [E[t] - E[t + 1] for t in range(ce["step"])]
    assert max(drops) > 0
    # the reported violation is that drop (units of e^{r_*}), to rounding
    assert math.isclose(res["violation"], float(max(drops)), rel_tol=1e-9)
    # and it replays with numerics.evolve
    tr = numerics.evolve(ce["mass"], ce["reward"], K, ce["step"], ce["lam"], ce["data"])
    Es = np.asarray(tr.masses) @ (np.array(ce["exp_reward"]) / max(ce["exp_reward"]))
    assert np.max(Es[:-1] - Es[1:]) > 1e-3


@pytest.mark.parametrize("name", ["T1", "T5", "T6", "T7"])
def test_theorems_survive(cli, name):
    code, out, err = cli("falsify", name, "--json", "--budget", "120")
    res = json.loads(out)
    assert res["error"] is None, res.get("error_instance")
    assert res["found"] is False and code == 0
    assert res["examples_tried"] == 120 and res["violation"] <= get_claim(name).tolerance


def test_false_claims_are_refuted_and_shrunk():
    for name in ("reward-variance-monotone", "mixing-nonexpansive"):
        res = falsify(name, budget=200, seed=0)
        assert res.found and res.violation > get_claim(name).tolerance
        ce = res.counterexample
        assert len(ce.mass) <= 3 and ce.step == 1
        assert get_claim(name).violation(ce) == res.violation   # reproducible


def test_search_is_reproducible_and_validates_arguments():
    a = falsify("reward-variance-monotone", budget=100, seed=3).as_dict()
    b = falsify("reward-variance-monotone", budget=100, seed=3).as_dict()
    a.pop("seconds"), b.pop("seconds")
    assert a == b
    with pytest.raises(ValueError, match="budget"):
        falsify("T1", budget=0)
    with pytest.raises(KeyError, match="unknown claim"):
        falsify("no-such-claim")


def test_cli_usage(cli):
    code, out, err = cli("falsify", "no-such-claim")
    assert code == 2 and out == "" and len(err.strip().splitlines()) == 1
    assert "no-such-claim" in err
    code, out, err = cli("falsify", "--list")
    assert code == 0 and all(c.name in out for c in list_claims())
    code, out, err = cli("falsify", "T1", "--budget", "0")
    assert code == 2 and err.count("\n") == 1 and "--budget" in err
    code, out, err = cli("falsify", "reward-variance-monotone", "--budget", "50")
    assert code == 1 and "COUNTEREXAMPLE" in out


def test_user_claim_end_to_end(tmp_path, cli):
    # a false user claim: "H_p^K <= 2 everywhere" (false for K >= 3: H -> K at the top)
    def h_at_most_two(inst):
        return float(np.max(numerics.curation_factor(inst.mass, inst.reward, inst.K)) - 2.0)

    register_claim("user-H-at-most-2", "H_p^K(x) <= 2", h_at_most_two,
                   space=InstanceSpace(K="integer", K_max=10), expected="false")
    try:
        res = falsify("user-H-at-most-2", budget=300, seed=1)
        assert res.found and res.counterexample.K >= 3
        ce = res.counterexample
        # independent: for 2 atoms with s = (1, n/N) the top H is >= K/(1+(K-1)E[s]) > 2
        assert np.max(numerics.curation_factor(ce.mass, ce.reward, ce.K)) > 2
    finally:
        unregister_claim("user-H-at-most-2")
    # through the command line, registered by a module file; a true claim: exit 0
    module = tmp_path / "my_claims.py"
    module.write_text(
        "import numpy as np, numerics\n"
        "from theory.claims import register_claim, InstanceSpace\n"
        "register_claim('user-curate-normalized', 'C_K(p) sums to 1',\n"
        "    lambda i: abs(float(numerics.curate(i.mass, i.reward, i.K).sum()) - 1) - 1e-12,\n"
        "    space=InstanceSpace(atoms=(1, 5)), replace_existing=True)\n")
    try:
        code, out, err = cli("falsify", "user-curate-normalized", "--module",
                              str(module), "--json", "--budget", "50")
        assert code == 0 and json.loads(out)["found"] is False
    finally:
        unregister_claim("user-curate-normalized")


def test_registry_rejects_bad_claims():
    with pytest.raises(ValueError, match="already registered"):
        register_claim("T1", "dup", lambda i: 0.0)
    with pytest.raises(ValueError, match="expected"):
        register_claim("x-bad", "s", lambda i: 0.0, expected="maybe")
    with pytest.raises(ValueError, match="lam"):
        InstanceSpace(lam="sometimes")


# ----------------------------------------------------------------------------------------
# every checker fails on a deliberately wrong engine
# ----------------------------------------------------------------------------------------

_TWO = dict(mass=np.array([3.0, 1.0, 2.0]), reward=np.log([1.0, 4.0, 2.0]))


def _inst(K=3.0, lam=math.inf, data=None, step=1, **law):
    law = {**_TWO, **law}
    return Instance(law["mass"], law["reward"], K, lam, data, step)


def _anti_curating_evolve(mass, reward, K, steps, lam=math.inf, data=None, **kw):
    """Curation with the reward negated: moves mass DOWN the reward."""
    return _real_evolve(mass, -np.asarray(reward), K, steps, lam, data, **kw)


def _data_blind_evolve(mass, reward, K, steps, lam=math.inf, data=None, **kw):
    """Forgets the real data (lam = inf)."""
    return _real_evolve(mass, reward, K, steps, math.inf, None, **kw)


_real_evolve = numerics.evolve
_real_H = numerics.curation_factor
_real_curate = numerics.curate

WRONG = {
    "P1": ("curation_factor", lambda m, r, K, **kw: _real_H(m, r, K) * (1 + 1e-6), _inst()),
    "P2": ("curation_factor", lambda m, r, K, **kw: _real_H(m, -np.asarray(r), K), _inst()),
    "P3": ("curation_factor", lambda m, r, K, **kw: _real_H(m, -np.asarray(r), K), _inst()),
    "P4": ("curation_factor", lambda m, r, K, **kw: _real_H(m, r, K + 1), _inst()),
    "P5": ("curation_factor", lambda m, r, K, **kw: _real_H(m, np.minimum(r, 0.5), K),
           _inst()),
    "P6": ("curate", lambda m, r, K, **kw: _real_curate(m, -np.asarray(r), K), _inst()),
    "T1": ("evolve", _anti_curating_evolve, _inst(step=3)),
    "T2": ("evolve", _anti_curating_evolve, _inst(step=3)),
    "T5": ("evolve", _data_blind_evolve,
           _inst(lam=0.5, data=np.array([1.0, 0.0, 0.0]), mass=np.array([1.0, 1.0, 1.0]),
                 step=2)),
    "T6": ("evolve", _anti_curating_evolve,
           _inst(lam=2.0, data=_TWO["mass"].copy(), step=3)),
    "T7.coupling": ("curate", lambda m, r, K, **kw: np.asarray(m) ** 8 / np.sum(np.asarray(m) ** 8),
                    _inst(K=2.0, data=np.array([1.0, 1.0, 1.0]))),
    "T7": ("evolve", _data_blind_evolve,
           _inst(K=2.0, lam=0.25, data=np.array([1.0, 1.0, 6.0]), step=3)),
    "T11": ("curate", lambda m, r, K, **kw: _real_curate(m, -np.asarray(r), K),
            _inst(K=math.inf, data=np.array([1.0, 2.0, 5.0]))),
    "T12": ("curate", lambda m, r, K, **kw: _real_curate(m, -np.asarray(r), K),
            _inst(K=math.inf, data=np.array([1.0, 2.0, 5.0]))),
    "P3.strict": ("curation_factor", lambda m, r, K, **kw: _real_H(m, r, 1.0), _inst()),
    "T3.kl": ("evolve", _anti_curating_evolve, _inst(step=3)),
    "T6.increment": ("evolve", _anti_curating_evolve,
                     _inst(lam=2.0, data=_TWO["mass"].copy(), step=3)),
    "T10": ("evolve", lambda m, r, K, steps, lam=math.inf, data=None, **kw:
            _real_evolve(m, r, 20.0, steps, lam, data, **kw),
            _inst(K=2.0, lam=0.5, data=_TWO["mass"].copy(), reward=np.log([1.0, 1e3, 2.0]),
                  step=2)),
    "T7.uniform": ("curate", lambda m, r, K, **kw: np.eye(len(m))[int(np.argmax(m))],
                   _inst(mass=np.array([1.0, 1.001, 1.0]), data=np.array([1.001, 1.0, 1.0]))),
}


def test_every_builtin_theorem_checker_fails_on_a_wrong_engine(monkeypatch):
    theorems = [c for c in list_claims() if c.kind == "theorem"]
    assert {c.name for c in theorems} == set(WRONG)
    for claim in theorems:
        attr, wrong, inst = WRONG[claim.name]
        assert claim.space.admits(claim.space.conform(inst)), claim.name
        inst = claim.space.conform(inst)
        assert claim.violation(inst) <= claim.tolerance, claim.name     # right engine
        with monkeypatch.context() as mp:
            mp.setattr(numerics, attr, wrong)
            assert claim.violation(inst) > claim.tolerance, claim.name  # wrong engine


def test_falsify_catches_a_wrong_engine(monkeypatch):
    monkeypatch.setattr(numerics, "evolve", _anti_curating_evolve)
    res = falsify("T1", budget=100, seed=0)
    assert res.found and res.violation > get_claim("T1").tolerance


# --- one record per statement: a theorem claim takes its text from theory.STATEMENTS -------

def test_theorem_claims_take_their_text_from_the_statements():
    from theory import STATEMENTS
    from theory.claims import KINDS, claims_for, statement_text
    claims = list_claims()
    assert {c.kind for c in claims} == set(KINDS)
    for c in claims:
        if c.kind == "theorem":
            assert c.name == c.ids[0] and c.expected == "holds", c.name
            assert c.statement == statement_text(c.ids)
            for i in c.ids:
                assert STATEMENTS[i].statement in c.statement and c in claims_for(i)
        else:
            assert c.ids == () and c.name not in STATEMENTS, c.name
            assert c.kind == ("false" if c.expected == "false" else "conjecture"), c.name
    c = get_claim("T7.coupling")
    assert c.ids == ("T7.coupling", "T7.kinf")
    assert c.statement == (f"T7.coupling: {STATEMENTS['T7.coupling'].statement}; "
                           f"T7.kinf: {STATEMENTS['T7.kinf'].statement}")
    assert get_claim("T1").statement == STATEMENTS["T1"].statement
    for name, kind in [("reward-variance-monotone", "false"),
                       ("mixing-reward-monotone", "false"),
                       ("potential-monotone-finite-K", "false"),
                       ("adversarial-increase-finite-K", "false"),
                       ("top-mass-monotone", "conjecture")]:
        assert get_claim(name).kind == kind, name


def test_theorem_claims_are_checked(monkeypatch):
    with pytest.raises(ValueError, match="unknown statement ids"):
        register_claim("T99", None, lambda i: 0.0, kind="theorem", ids=("T99",))
    with pytest.raises(ValueError, match="ids"):
        register_claim("x-theorem", "s", lambda i: 0.0, kind="theorem")
    with pytest.raises(ValueError, match="does not match"):
        register_claim("x-false", "s", lambda i: 0.0, kind="false")
    with pytest.raises(ValueError, match="alias"):
        register_claim("T7-coupling", "s", lambda i: 0.0)
    assert "x-false" not in [c.name for c in list_claims()]


def test_old_claim_name_is_an_alias(cli):
    assert get_claim("T7-coupling") is get_claim("T7.coupling")
    old = cli("falsify", "T7-coupling", "--budget", "20", "--seed", "3")
    new = cli("falsify", "T7.coupling", "--budget", "20", "--seed", "3")
    assert tuple(old) == tuple(new) and old.code == 0 and old.err == ""
    assert "claim     T7.coupling (THEORY.md T7.coupling; expected: holds)" in old.out
    code, out, err = cli("falsify", "--list")
    assert "T7-coupling" not in out
    lines = out.splitlines()
    row = next(line for line in lines if line.startswith("T7.coupling "))
    assert row.split()[1] == "theorem" and get_claim("T7.coupling").statement in row
    row = next(line for line in lines if line.startswith("reward-variance-monotone "))
    assert row.split()[1] == "false"


def test_check_list_names_the_falsify_claims(cli):
    code, out, err = cli("check", "--list")
    assert code == 0
    lines = out.splitlines()

    def falsify_line(sid):
        i = lines.index(next(line for line in lines if line.startswith(f"{sid}: ")))
        # id: statement, hypotheses, measured, tolerance, then the claims (if any)
        nxt = lines[i + 4] if i + 4 < len(lines) else ""
        return nxt if nxt.startswith("    falsify:") else None

    assert falsify_line("T7.coupling") == "    falsify:    T7.coupling"
    assert falsify_line("T7.kinf") == "    falsify:    T7.coupling"
    assert falsify_line("T5.tv") == "    falsify:    T5"
    assert falsify_line("T3") is None and falsify_line("T14.contraction") is None
