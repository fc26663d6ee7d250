"""``selfconsume stability``: the fixed point of parametric retraining and its stability
(docs/theory.md section 5, S1-S3).

Fits the family (``--family gaussian``: full covariance, discretized on the scenario's grid)
by maximum likelihood to ``(p_d + lam C_K(p_theta)) / (1 + lam)`` each generation; solves the
fixed point ``theta^lam`` by Newton and prints it, the spectral radius of ``DG`` there (with
its error bound and how it was computed), beside ``lam/(1+lam)`` (S1) and the paper's ``rho``
and Bertrand et al.'s ``rho_B`` (S2, with their constants).

Exit codes: 0 a stable fixed point; 1 the fixed point is unstable, undecided (radius within
its error of 1) or none was found; 2 bad usage.
"""

from __future__ import annotations

import math

from ..errors import UsageError
from ..options import add_scenario_options, scenario_from_args

FAMILIES = ("gaussian",)


def register(subparsers):
    parser = subparsers.add_parser(
        "stability", help="fixed point of parametric retraining and its spectral radius",
        description="Parametric retraining (docs/theory.md section 5): the fixed point of the "
                    "MLE map G for the scenario's K and lam, the spectral radius of DG there "
                    "beside lam/(1+lam) (S1) and the S2 bounds.  Exit code 1 when the fixed "
                    "point is unstable or none is found.  Needs a finite --lam.")
    add_scenario_options(parser)
    parser.add_argument("--family", choices=FAMILIES, default="gaussian",
                        help="parametric family (default gaussian: full covariance on the grid)")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    parser.set_defaults(run=run)
    return parser


def _fmt(x, spec=".10g"):
    return "None" if x is None else format(x, spec)


def run(args):
    sc = scenario_from_args(args)
    if math.isinf(sc.lam):
        raise UsageError("--lam: stability needs a finite lam (real data mixed in); with "
                         "lam = inf the model collapses and has no fixed point")
    if len(sc.axes) != sc.mass.ndim or sc.mass.ndim not in (1, 2):
        raise UsageError(f"--scenario: the gaussian family needs a 1-D or 2-D grid with "
                         f"coordinates; {sc.name!r} has none usable")
    from numerics.parametric import Gaussian, stability

    data = sc.mass if sc.data is None else sc.data
    st = stability(Gaussian(tuple(sc.axes)), sc.reward, sc.K, sc.lam, data)
    out = dict(st.as_dict(), scenario=sc.name)
    if args.json:
        from ..io import to_json
        print(to_json(out))
    else:
        K = "inf" if math.isinf(sc.K) else f"{sc.K:g}"
        print(f"stability {sc.name}: family={args.family} K={K} lam={sc.lam:g}")
        if not st.exists:
            print(f"NO FIXED POINT: {st.reason}")
        else:
            mu, cov = st.mean_cov
            print(f"fixed point (found from {st.start}, {st.newton_steps} Newton steps, "
                  f"residual {st.residual:.2g}): mean {mu.round(10).tolist()}, covariance "
                  f"{cov.round(10).tolist()}")
            print(f"spectral radius of DG   {st.spectral_radius:.10f} +- {st.radius_error:.2g}"
                  f"  ({st.method})")
        print(f"S1 lam/(1+lam)          {_fmt(st.uncurated_radius)}  (no curation, exact)")
        print(f"S2 rho (paper)          {_fmt(st.rho)}")
        print(f"S2 rho_B (Bertrand)     {_fmt(st.rho_B)}  (None: lam >= 1, no bound)")
        s2 = st.s2
        print(f"   constants: alpha={_fmt(s2.get('alpha'), '.6g')} L={s2.get('L')} "
              f"eps={s2.get('eps')} ({s2.get('note', '')})")
        if st.exists:
            word = {True: "STABLE", False: "UNSTABLE", None: "UNDECIDED"}[st.stable]
            print(f"{word}: spectral radius {'<' if st.stable else ('>' if st.stable is False else '~')} 1")
    return 0 if st.stable else 1
