"""The record of one run of the sample-based retraining loop (:func:`numerics.sampling.simulate`):
:class:`Simulation`, the fitted models and the curated sample means per generation."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

__all__ = ["Simulation"]


@dataclass
class Simulation:
    """Result of :func:`numerics.sampling.simulate`.

    - ``masses[t]``: the fitted model ``q_t`` on the grid (shaped like ``mass``),
      ``t = 0..steps`` (``q_0`` = the normalized start masses);
    - ``expected_reward[t] = E_{q_t}[r]``, ``t = 0..steps``;
    - ``sample_mean_reward[t]``, ``sample_se[t]``: mean of ``r`` over the ``samples`` curated
      samples drawn from ``q_t`` (used to fit ``q_{t+1}``) and its standard error
      ``sd / sqrt(n)`` (``sd`` with ``ddof = 1``), ``t = 0..steps-1``;
    - ``real_samples``: ``m = round(samples / lam)`` real samples per generation (0 for
      ``lam = inf``), ``effective_lam = samples / m``: the ``lam`` of the exact dynamics whose
      step the histogram model reproduces in expectation;
    - ``bandwidths``: KDE bandwidths per generation and axis (coordinate units), else None;
    - ``info``: for the gaussian model, ``"mean"`` and ``"cov"`` (the fitted parameters of
      ``q_1..q_steps``, after the eigenvalue floor of :func:`numerics.sampling_models.fit_gaussian`); for a model
      object, ``"masses_estimated"`` (True when it has no ``grid_masses``: ``masses`` are then
      histograms of fresh samples, and the conditional z-test carries their noise too);
    - ``rule``, ``statistics``: for a run with a curation rule or a model object (see
      :func:`numerics.sampling.simulate`): the rule, and per generation the grid statistic ``f_t`` (default the
      rule's first user type's reward at step ``t``, ``-inf`` read as 0) whose mean over the
      kept samples is ``sample_mean_reward[t]`` (``sample_se``: cluster-robust, clusters = the
      curation events); ``reward`` is then ``f_0`` and ``expected_reward[t] = E_{q_t}[f_t]``.
    """

    masses: list
    expected_reward: np.ndarray
    sample_mean_reward: np.ndarray
    sample_se: np.ndarray
    K: int
    lam: float
    effective_lam: float
    samples: int
    real_samples: int
    steps: int
    seed: int
    model: str
    backend: str
    reward: np.ndarray
    data: np.ndarray | None
    bandwidths: np.ndarray | None = None
    info: dict = field(default_factory=dict)
    #: the curation rule sampled (``None``: Bradley-Terry with ``reward`` and ``K``)
    rule: object | None = None
    #: the statistic whose curated mean is tested, per generation (rule runs; rewards may
    #: change with ``t``): ``sample_mean_reward[t]`` is its mean over the kept samples
    statistics: list | None = None
