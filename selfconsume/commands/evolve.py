"""``selfconsume evolve``: run the retraining loop on a scenario and save the trajectory (.npz).

The file holds ``masses`` (the densities at ``recorded_steps``, stacked: shape
``(len(recorded_steps),) + grid``), the per-step arrays ``expected_reward``,
``expected_exp_reward``, ``var_exp_reward`` (steps ``0..steps``, ``E[e^{r-c}]`` with
``c = exp_reward_shift``), ``reward``, ``data`` (the real-data masses, = ``masses[0]``
unless the scenario has its own), ``axis_0`` (, ``axis_1``), ``labels`` (where the scenario
has classes), the scalars ``K``, ``lam``, ``steps`` (completed), ``requested_steps``,
``r_star``, ``exp_reward_shift`` and the string ``scenario``.
"""

from __future__ import annotations

import os
import sys

from ..errors import UsageError
from ..options import add_scenario_options, parse_int, scenario_from_args


def register(subparsers):
    parser = subparsers.add_parser(
        "evolve", help="run the retraining loop and save the trajectory (.npz)",
        description="Evolve p_{t+1} = (p_d + lam C_K(p_t)) / (1 + lam) on a scenario and save "
                    "the trajectory as an .npz file (written atomically).  Ctrl-C saves the "
                    "completed steps (exit code 130).")
    add_scenario_options(parser)
    parser.add_argument("--out", metavar="FILE.npz", required=True,
                        help="output file (numpy .npz; written under exactly this name)")
    parser.add_argument("--record-every", metavar="N", default="1",
                        help="keep the densities of steps 0, N, 2N, ... and the last (default 1)")
    parser.set_defaults(run=run)
    return parser


def trajectory_arrays(sc, traj, requested_steps):
    """The arrays saved for the trajectory ``traj`` of the scenario ``sc``."""
    import numpy as np
    out = dict(
        masses=np.asarray(traj.masses), recorded_steps=np.asarray(traj.recorded_steps),
        expected_reward=traj.expected_reward, expected_exp_reward=traj.expected_exp_reward,
        var_exp_reward=traj.var_exp_reward, exp_reward_shift=np.float64(traj.exp_reward_shift),
        r_star=np.float64(traj.r_star), reward=np.asarray(sc.reward, dtype=np.float64),
        data=np.asarray(sc.mass if sc.data is None else sc.data, dtype=np.float64),
        K=np.float64(traj.K), lam=np.float64(traj.lam), steps=np.int64(traj.steps),
        requested_steps=np.int64(requested_steps), scenario=np.str_(sc.name))
    out["data"] = out["data"] / out["data"].sum()
    for i, axis in enumerate(sc.axes):
        out[f"axis_{i}"] = np.asarray(axis)
    if sc.labels is not None:
        out["labels"] = np.asarray(sc.labels)
        out["label_names"] = np.asarray(sc.label_names, dtype=str)
    return out


def save_trajectory(path, arrays):
    """Write ``arrays`` to ``path`` atomically (np.savez on a file object, so that the name
    is kept as given)."""
    import numpy as np
    from ..io import atomic_path
    try:
        with atomic_path(path) as tmp, open(tmp, "wb") as fh:
            np.savez(fh, **arrays)
    except OSError as exc:
        raise UsageError(f"--out {path}: cannot write: {exc.strerror or exc}") from None


def run(args):
    import numerics
    from .. import io

    every = parse_int(args.record_every, "--record-every", 1)
    out = args.out
    if os.path.isdir(out):
        raise UsageError(f"--out {out}: is a directory")
    sc = scenario_from_args(args)
    progress = io.Progress(f"evolve {sc.name}")
    try:
        if sc.rule is None:
            traj = numerics.evolve(sc.mass, sc.reward, sc.K, sc.steps, lam=sc.lam, data=sc.data,
                                   record_every=every, progress=progress)
        else:  # user types, keep-k, filtering: evolve(mass, rule, steps, lam, data)
            traj = numerics.evolve(sc.mass, sc.rule, sc.steps, sc.lam, sc.data,
                                   record_every=every, progress=progress)
    except numerics.EvolutionInterrupted as exc:
        traj = exc.trajectory
        save_trajectory(out, trajectory_arrays(sc, traj, sc.steps))
        sys.stderr.write(f"\nselfconsume evolve: interrupted after {traj.steps} of {sc.steps} "
                         f"steps; saved steps 0..{traj.steps} to {out}\n")
        return 130
    save_trajectory(out, trajectory_arrays(sc, traj, sc.steps))
    shape = "x".join(map(str, sc.mass.shape))
    print(f"evolve {sc.name}: K={sc.K:g} lam={sc.lam:g} steps={sc.steps} grid={shape}"
          + ("" if sc.rule is None else f" rule={sc.rule!r}"))
    print(f"E[r]: {traj.expected_reward[0]:.10g} (step 0) -> "
          f"{traj.expected_reward[-1]:.10g} (step {traj.steps})")
    print(f"wrote {out} ({len(traj.recorded_steps)} recorded steps)")
    return 0
