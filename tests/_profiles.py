"""Hypothesis profiles for the whole suite, chosen by ``HYPOTHESIS_PROFILE``:

- ``ci`` (the default, what CI runs): 100 examples per test unless a test asks for another
  count with :func:`examples`, derandomized (the same examples on every run), no deadline;
- ``dev``: the same at a fifth of the examples, for the inner loop
  (``HYPOTHESIS_PROFILE=dev pytest -m "not slow"``).
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

_COMMON = dict(deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
#: examples per test of each profile (ci: hypothesis' own default)
_EXAMPLES = {"ci": 100, "dev": 20}
for _name, _n in _EXAMPLES.items():
    settings.register_profile(_name, max_examples=_n, **_COMMON)


def load_profile():
    """Load the profile named by ``HYPOTHESIS_PROFILE`` (default ``ci``)."""
    settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


def examples(n):
    """Settings for a test that runs ``n`` examples under ``ci``, scaled like the loaded
    profile's count (``dev``: ``n / 5``)."""
    scale = settings.default.max_examples / _EXAMPLES["ci"]
    return settings(max_examples=max(1, round(n * scale)))
