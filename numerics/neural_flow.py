r"""A reference neural generative model for the sample-based loop: conditional flow matching
with a small MLP (PyTorch; the optional extra ``selfconsume[neural]``).

The model is a velocity field ``v_theta(x, t)`` on ``R^d x [0, 1]``; a sample is the solution
at ``t = 1`` of the ODE ``dx/dt = v_theta(x, t)`` started at ``x(0) = x_0 ~ N(0, I)``.
Training (conditional flow matching, Lipman et al. 2023, "Flow Matching for Generative
Modeling", ICLR; the linear path of Liu et al. 2023 / Tong et al. 2024) minimizes

.. math::

    L(\theta) = E_{t \sim U[0,1],\ x_0 \sim N(0, I),\ x_1 \sim \hat q}
                \| v_\theta(x_t, t) - (x_1 - x_0) \|^2, \qquad x_t = (1 - t) x_0 + t x_1,

whose minimizer over all functions is the marginal velocity ``E[x_1 - x_0 | x_t = x]``; its
flow carries ``N(0, I)`` to the training law ``\hat q`` (the weighted empirical law of the
samples: ``x_1`` is drawn with probability proportional to its weight).

This is the class of model the paper retrains in its 2-D experiments (Ferbach et al., NeurIPS
2024, section 4 and appendix: a generative model refitted each generation to curated samples,
with or without real data; THEORY.md section 8, docs/theory.md section 6).  In this project
it is a *cross-check*: binned on the grid, its loop should follow the exact dynamics of
:func:`numerics.evolve` up to its sampling error and its model error.

Choices (each a parameter, see :class:`FlowMatchingModel`):

- **data standardization**: the first :meth:`~FlowMatchingModel.fit` fixes a per-axis mean and
  scale (the sample's weighted mean and standard deviation) and the network works in those
  coordinates; with ``warm_start=True`` later fits keep them, so that the continued network
  still means the same map (a refit with ``warm_start=False`` recomputes them);
- **warm start** (default): each ``fit`` continues training the previous generation's network
  (with a fresh Adam state) for ``train_steps`` steps; the first fit trains
  ``initial_steps``.  This is what iterative retraining does in the paper's loops (the model of
  generation ``t + 1`` is the model of generation ``t`` finetuned on the new data set), and it
  is cheaper than training from scratch; ``warm_start=False`` re-initializes and trains
  ``initial_steps`` at every fit;
- **solver**: the explicit midpoint rule with ``ode_steps`` steps of ``1 / ode_steps``
  (``2 ode_steps`` network evaluations per sample);
- **device**: ``"auto"`` is ``cuda`` when ``torch.cuda.is_available()``, else the CPU.

Randomness: the initial weights and the training draws (mini-batch indices, ``x_0``, ``t``)
come from a ``torch.Generator`` seeded with ``seed``; :meth:`~FlowMatchingModel.sample` draws
a 63-bit seed from the numpy generator it is given and seeds a fresh ``torch.Generator`` with
it, so one numpy generator makes a whole loop reproducible.  On the CPU a given ``seed``, call
sequence and thread count give identical results, bit for bit (every operation used is
deterministic there); on a GPU the streams are seeded the same way but cuBLAS reductions
need not be bitwise reproducible.

>>> import numpy as np
>>> from numerics.neural_flow import FlowMatchingModel
>>> rng = np.random.default_rng(0)
>>> pts = rng.normal(size=(256, 2)) * [1.0, 0.3] + [2.0, -1.0]
>>> fm = FlowMatchingModel(hidden=16, depth=2, initial_steps=50, batch_size=64,
...                        ode_steps=4, device="cpu", seed=1).fit(pts)
>>> fm.sample(5, np.random.default_rng(2)).shape
(5, 2)
"""

from __future__ import annotations

import math
import numbers

import numpy as np

from .validation import ValidationError, ValidationTypeError

__all__ = ["FlowMatchingModel", "flow_from_masses", "flow_options", "require_torch",
           "pick_device", "EXTRA"]

#: the optional extra that installs PyTorch
EXTRA = "selfconsume[neural]"

#: points pushed through the network at once when sampling (bounds the memory)
SAMPLE_CHUNK = 1 << 16


def require_torch():
    """``import torch``, or an :class:`ImportError` naming the extra that installs it."""
    try:
        import torch
    except ImportError as exc:
        raise ImportError(f"the flow-matching model needs PyTorch, which is not installed "
                          f"({exc}); install the optional extra: pip install '{EXTRA}' "
                          f"(from a checkout: pip install -e '.[neural]')") from None
    return torch


def pick_device(device):
    """``"auto"`` -> ``"cuda"`` when ``torch.cuda.is_available()``, else ``"cpu"``; ``"cpu"``,
    ``"cuda"`` and ``"cuda:N"`` are checked (a CUDA device that is not there is an error)."""
    torch = require_torch()
    if not isinstance(device, str):
        raise ValidationTypeError(f"device must be 'auto', 'cpu', 'cuda' or 'cuda:N', got "
                                  f"{type(device).__name__}")
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cpu":
        return device
    if device == "cuda" or (device.startswith("cuda:") and device[5:].isdigit()):
        if not torch.cuda.is_available():
            raise ValidationError(f"device={device!r}: no CUDA device is available (use "
                                  f"'auto' or 'cpu')")
        return device
    raise ValidationError(f"device must be 'auto', 'cpu', 'cuda' or 'cuda:N', got {device!r}")


def _positive_int(value, name):
    if isinstance(value, bool) or not isinstance(value, (numbers.Integral, np.integer)):
        raise ValidationTypeError(f"{name} must be an integer, got {type(value).__name__}")
    if value < 1:
        raise ValidationError(f"{name} must be >= 1, got {value}")
    return int(value)


def _positive_real(value, name):
    if isinstance(value, bool) or not isinstance(value, (numbers.Real, np.floating,
                                                         np.integer)):
        raise ValidationTypeError(f"{name} must be a real number, got {type(value).__name__}")
    value = float(value)
    if not (math.isfinite(value) and value > 0):
        raise ValidationError(f"{name} must be finite and > 0, got {value!r}")
    return value


def _velocity_net(torch, dim, hidden, depth, frequencies):
    """``v(x, t)``: an MLP on ``(x, t, sin(2 pi f t), cos(2 pi f t))`` (``f = 1..frequencies``),
    ``depth`` hidden layers of width ``hidden`` with SiLU, a linear output of size ``dim``."""
    nn = torch.nn

    class VelocityNet(nn.Module):
        def __init__(self):
            super().__init__()
            self.register_buffer("freq", 2 * math.pi * torch.arange(1, frequencies + 1,
                                                                     dtype=torch.float32))
            width = dim + 1 + 2 * frequencies
            layers = []
            for _ in range(depth):
                layers += [nn.Linear(width, hidden), nn.SiLU()]
                width = hidden
            layers.append(nn.Linear(width, dim))
            self.mlp = nn.Sequential(*layers)

        def forward(self, x, t):
            ft = t * self.freq
            return self.mlp(torch.cat([x, t, torch.sin(ft), torch.cos(ft)], dim=1))

    return VelocityNet()


class FlowMatchingModel:
    r"""Conditional flow matching with a small MLP, through the model protocol of
    :func:`numerics.sampling.simulate` (``fit(samples, weights=None)``, ``sample(n, rng)``);
    see the module doc for the loss, the solver and the randomness.

    Parameters
    ----------
    hidden, depth : int
        width and number of the hidden layers (default 64 and 3).
    train_steps : int
        Adam steps of each warm-started refit (default 1000).
    initial_steps : int or None
        Adam steps of the first fit, and of every fit with ``warm_start=False``
        (default ``4 * train_steps``).
    batch_size : int
        samples per Adam step (default 512).
    lr : float
        Adam learning rate at the start of each fit (default 1e-2; cosine decay to ``lr /
        20`` within the fit).
    ode_steps : int
        midpoint steps from ``t = 0`` to ``1`` when sampling (default 16).
    frequencies : int
        Fourier features of ``t`` fed to the network (default 4).
    warm_start : bool
        continue the previous network at each refit (default, see the module doc).
    device : str
        ``"auto"`` (default), ``"cpu"``, ``"cuda"`` or ``"cuda:N"``.
    seed : int
        seeds the initial weights and the training draws.

    ``fit`` returns the model; ``sample`` returns a float64 array of shape ``(n, d)``;
    ``losses`` holds the mean training loss of the last 10% of the steps of each fit.
    """

    def __init__(self, hidden=64, depth=3, train_steps=1000, initial_steps=None,
                 batch_size=512, lr=1e-2, ode_steps=16, frequencies=4, warm_start=True,
                 device="auto", seed=0):
        self.torch = require_torch()
        self.hidden = _positive_int(hidden, "hidden")
        self.depth = _positive_int(depth, "depth")
        self.train_steps = _positive_int(train_steps, "train_steps")
        self.initial_steps = (4 * self.train_steps if initial_steps is None
                              else _positive_int(initial_steps, "initial_steps"))
        self.batch_size = _positive_int(batch_size, "batch_size")
        self.lr = _positive_real(lr, "lr")
        self.ode_steps = _positive_int(ode_steps, "ode_steps")
        self.frequencies = _positive_int(frequencies, "frequencies")
        if not isinstance(warm_start, (bool, np.bool_)):
            raise ValidationTypeError(f"warm_start must be True or False, got "
                                      f"{type(warm_start).__name__}")
        self.warm_start = bool(warm_start)
        if isinstance(seed, bool) or not isinstance(seed, (numbers.Integral, np.integer)) \
                or seed < 0:
            raise ValidationError(f"seed must be a non-negative integer, got {seed!r}")
        self.seed = int(seed)
        self.device = pick_device(device)
        self._gen = self.torch.Generator(device=self.device)
        self._gen.manual_seed(self.seed)
        self.net = None
        self.dim = None
        self.mean = self.scale = None
        self.fits = 0
        self.losses = []

    def __repr__(self):
        return (f"FlowMatchingModel(hidden={self.hidden}, depth={self.depth}, "
                f"train_steps={self.train_steps}, initial_steps={self.initial_steps}, "
                f"batch_size={self.batch_size}, lr={self.lr:g}, ode_steps={self.ode_steps}, "
                f"warm_start={self.warm_start}, device={self.device!r}, seed={self.seed})")

    # ------------------------------------------------------------------ checks
    @staticmethod
    def _check_samples(samples, dim):
        try:
            x = np.asarray(samples, dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise ValidationTypeError(f"samples must be an array of real numbers: "
                                      f"{exc}") from None
        if x.ndim != 2 or x.shape[0] < 1 or x.shape[1] < 1:
            raise ValidationError(f"samples must have shape (n, d) with n, d >= 1, got "
                                  f"{x.shape}")
        if dim is not None and x.shape[1] != dim:
            raise ValidationError(f"samples have {x.shape[1]} columns, the model was fitted "
                                  f"in dimension {dim}")
        if not np.all(np.isfinite(x)):
            raise ValidationError("samples contain NaN or an infinite value")
        return x

    @staticmethod
    def _check_weights(weights, n):
        if weights is None:
            return None
        try:
            w = np.asarray(weights, dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise ValidationTypeError(f"weights must be an array of real numbers: "
                                      f"{exc}") from None
        if w.shape != (n,):
            raise ValidationError(f"weights has shape {w.shape}, expected ({n},) (one per "
                                  f"sample)")
        if not np.all(np.isfinite(w)) or np.any(w < 0) or not w.sum() > 0:
            raise ValidationError("weights must be finite, >= 0, with a positive sum")
        return w / w.sum()

    # ------------------------------------------------------------------ training
    def _init_net(self):
        torch = self.torch
        net = _velocity_net(torch, self.dim, self.hidden, self.depth, self.frequencies)
        with torch.no_grad():  # PyTorch's default init, drawn from our generator
            for layer in net.modules():
                if isinstance(layer, torch.nn.Linear):
                    bound = 1.0 / math.sqrt(layer.in_features)
                    layer.weight.uniform_(-bound, bound, generator=self._cpu_gen())
                    layer.bias.uniform_(-bound, bound, generator=self._cpu_gen())
        self.net = net.to(self.device)

    def _cpu_gen(self):
        """The generator for CPU-side initialization (the training one when on the CPU)."""
        if self.device == "cpu":
            return self._gen
        if not hasattr(self, "_init_gen"):
            self._init_gen = self.torch.Generator().manual_seed(self.seed)
        return self._init_gen

    def fit(self, samples, weights=None):
        """Train on ``samples`` (shape ``(n, d)``), weighted by ``weights`` (``>= 0``, one per
        sample; ``None``: equal): ``initial_steps`` Adam steps from fresh weights at the first
        fit (or with ``warm_start=False``), else ``train_steps`` steps from the current ones.
        Each step draws ``batch_size`` indices with probability proportional to the weights,
        ``x_0 ~ N(0, I)`` and ``t ~ U[0, 1]`` and descends the flow-matching loss."""
        torch = self.torch
        x = self._check_samples(samples, self.dim if self.warm_start else None)
        w = self._check_weights(weights, x.shape[0])
        fresh = self.net is None or not self.warm_start
        if fresh:
            self.dim = x.shape[1]
            p = np.full(x.shape[0], 1.0 / x.shape[0]) if w is None else w
            self.mean = p @ x
            sd = np.sqrt(p @ (x - self.mean) ** 2)
            self.scale = np.where(sd > 0, sd, 1.0)
            self._init_net()
        steps = self.initial_steps if fresh else self.train_steps
        dev, gen = self.device, self._gen
        data = torch.as_tensor((x - self.mean) / self.scale, dtype=torch.float32, device=dev)
        probs = None if w is None else torch.as_tensor(w, dtype=torch.float32, device=dev)
        opt = torch.optim.Adam(self.net.parameters(), lr=self.lr)
        # cosine decay from lr to lr / 20 over the fit: the last steps average out the noise
        # of the stochastic loss (a constant rate leaves the modes visibly blurred)
        sched = torch.optim.lr_scheduler.LambdaLR(
            opt, lambda k: 0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * k / steps)))
        tail = []
        self.net.train()
        for k in range(steps):
            if probs is None:
                idx = torch.randint(0, data.shape[0], (self.batch_size,), generator=gen,
                                    device=dev)
            else:
                idx = torch.multinomial(probs, self.batch_size, replacement=True,
                                        generator=gen)
            x1 = data[idx]
            x0 = torch.randn(x1.shape, generator=gen, device=dev)
            t = torch.rand((x1.shape[0], 1), generator=gen, device=dev)
            xt = (1 - t) * x0 + t * x1
            loss = ((self.net(xt, t) - (x1 - x0)) ** 2).sum(dim=1).mean()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            if k >= steps - max(1, steps // 10):
                tail.append(float(loss.detach()))
        self.net.eval()
        self.fits += 1
        self.losses.append(float(np.mean(tail)))
        return self

    # ------------------------------------------------------------------ sampling
    def sample(self, n, rng):
        """``n`` points (float64, shape ``(n, d)``): ``x_0 ~ N(0, I)`` pushed from ``t = 0`` to
        ``1`` by the midpoint rule ``x <- x + h v(x + (h/2) v(x, t), t + h/2)``, ``h = 1 /
        ode_steps``, then mapped back from the standardized coordinates.  The noise comes
        from a ``torch.Generator`` seeded with ``rng.integers(2**63)`` (``rng``: a numpy
        ``Generator``)."""
        torch = self.torch
        n = _positive_int(n, "n")
        if self.net is None:
            raise ValidationError("sample: the model has not been fitted (call fit first)")
        if not isinstance(rng, np.random.Generator):
            raise ValidationTypeError(f"rng must be a numpy.random.Generator, got "
                                      f"{type(rng).__name__}")
        gen = torch.Generator(device=self.device)
        gen.manual_seed(int(rng.integers(2**63)))
        h = 1.0 / self.ode_steps
        out = np.empty((n, self.dim))
        with torch.no_grad():
            for start in range(0, n, SAMPLE_CHUNK):
                c = min(SAMPLE_CHUNK, n - start)
                x = torch.randn((c, self.dim), generator=gen, device=self.device)
                t = torch.zeros((c, 1), device=self.device)
                for _ in range(self.ode_steps):
                    mid = x + 0.5 * h * self.net(x, t)
                    x = x + h * self.net(mid, t + 0.5 * h)
                    t = t + h
                out[start:start + c] = x.double().cpu().numpy()
        return out * self.scale + self.mean


def flow_options(options):
    """``options`` (a dict of :class:`FlowMatchingModel` parameters, or None) checked by name:
    an unknown name is a :class:`ValidationTypeError` listing the known ones."""
    if options is None:
        return {}
    if not isinstance(options, dict):
        raise ValidationTypeError(f"model_options must be a dict of FlowMatchingModel "
                                  f"parameters, got {type(options).__name__}")
    import inspect
    known = [p for p in inspect.signature(FlowMatchingModel).parameters]
    bad = sorted(k for k in options if k not in known)
    if bad:
        raise ValidationTypeError(f"model_options: unknown parameter(s) {', '.join(map(str, bad))}"
                                  f" (known: {', '.join(known)})")
    return dict(options)


def flow_from_masses(mass, coords, n, seed, options=None):
    """``simulate(model="flow")``'s ``q_0``: a :class:`FlowMatchingModel` (``seed`` unless
    ``options`` gives one) fitted to ``n`` points of the grid law ``mass``: cells drawn with
    their masses, each point uniform inside its cell (cell edges at the midpoints of
    ``coords``, :func:`numerics.sampling_models.cell_edges`).  The points come from
    ``numpy.random.default_rng([seed, 1])``, a stream apart from the loop's."""
    from .sampling_models import cell_edges, jitter_cells
    opts = flow_options(options)
    opts.setdefault("seed", seed)
    model = FlowMatchingModel(**opts)
    m = np.asarray(mass, dtype=np.float64)
    rng = np.random.default_rng([seed, 1])
    cells = rng.choice(m.size, size=n, p=m.ravel() / m.sum())
    return model.fit(jitter_cells(rng, cells, cell_edges(coords)))
