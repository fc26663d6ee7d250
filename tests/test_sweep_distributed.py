"""A sweep through a real `dask scheduler` and two `dask worker` processes on 127.0.0.1 gives
the same Dataset as the local run (issue 13).  The processes are stopped even on failure."""

import contextlib
import os
import socket
import subprocess
import sys
import time

import numpy as np
import pytest

pytestmark = pytest.mark.slow  # starts a scheduler and two workers

import xarray as xr  # the sweep extra: installed by the test command (no silent skip)
import distributed  # noqa: F401,E402

import theory  # noqa: E402,F401
from numerics.sweep import DONE, SweepSpec, sweep  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def dask_cluster(n_workers=2):
    """``dask scheduler`` + ``n_workers`` ``dask worker --nthreads 1`` processes (the package
    importable through PYTHONPATH only); yields the scheduler's address."""
    port = free_port()
    address = f"tcp://127.0.0.1:{port}"
    env = {**os.environ, "PYTHONPATH": ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""),
           "NUMBA_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}
    dask = [sys.executable, "-m", "dask"]
    procs = []
    try:
        procs.append(subprocess.Popen(
            dask + ["scheduler", "--host", "127.0.0.1", "--port", str(port),
                    "--no-dashboard"], env=env, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL, start_new_session=True))
        for _ in range(n_workers):
            procs.append(subprocess.Popen(
                dask + ["worker", address, "--nthreads", "1", "--nworkers", "1",
                        "--host", "127.0.0.1", "--no-dashboard", "--no-nanny"],
                env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                start_new_session=True))
        from distributed import Client
        with Client(address, timeout=30) as client:
            client.wait_for_workers(n_workers, timeout=30)
            assert len(client.scheduler_info()["workers"]) == n_workers
        yield address
    finally:
        for p in reversed(procs):
            p.terminate()
        deadline = time.monotonic() + 10
        for p in procs:
            try:
                p.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()


def test_distributed_sweep_equals_local(tmp_path, cli):
    argv = ["sweep", "--scenario", "kingman", "--param", "b=1.5:4:4", "--param",
            "lam=0.5:6:5", "--measure", "condensate"]
    local, remote = tmp_path / "local.nc", tmp_path / "remote.nc"
    res = cli(*argv + ["--out", str(local)])
    assert res.code == 0
    with dask_cluster(2) as address:
        res = cli(*argv + ["--out", str(remote), "--scheduler", address])
        assert res.code == 0
        # a second measure on a grid scenario, through the Python API
        spec = SweepSpec("moments", {"K": [1.5, 4.0], "lam": [0.5, 2.0]}, scenario="gauss1d",
                         fixed={"grid": 41, "steps": 8})
        ds_remote = sweep(spec, scheduler=address)
    with xr.open_dataset(local, engine="scipy") as a, \
            xr.open_dataset(remote, engine="scipy") as b:
        assert (b["state"] == DONE).all()
        xr.testing.assert_identical(a.load(), b.load())
    ds_local = sweep(spec)
    xr.testing.assert_identical(ds_local, ds_remote)
    assert np.isfinite(ds_local["expected_exp_reward"].values).all()


def test_unreachable_scheduler_is_a_usage_error(tmp_path, cli):
    address = f"tcp://127.0.0.1:{free_port()}"   # nothing listens there
    res = cli("sweep", "--scenario", "kingman", "--param", "lam=2,3", "--out",
              str(tmp_path / "x.nc"), "--scheduler", address, "--connect-timeout", "2")
    code = res.code
    err = res.err
    assert code == 2 and "--scheduler" in err and err.count("\n") == 1
