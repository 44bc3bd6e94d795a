"""Hypothesis profiles for the test suite, and the ``sweep`` marker.

Pick a profile with the environment variable ``NUMPOOL_HYPOTHESIS_PROFILE``:

- ``ci`` (the default): 25 examples, derandomized, so every run draws the same cases;
- ``dev``: 100 random examples;
- ``sweep``: 1000 random examples, for long hunts before a release.

No profile has a deadline (the first call of a Numba kernel compiles it) and none fails
on the ``too_slow`` health check.

Tests marked ``@pytest.mark.sweep`` always run, in every profile, with the profile's
example count: ``@settings(max_examples=...)`` on a sweep test is overridden, so CI runs
it quickly and ``NUMPOOL_HYPOTHESIS_PROFILE=sweep`` runs it long.
"""

import os

import pytest
from hypothesis import HealthCheck, settings

PROFILE_ENV = "NUMPOOL_HYPOTHESIS_PROFILE"
PROFILE_EXAMPLES = {"ci": 25, "dev": 100, "sweep": 1000}

for _name, _examples in PROFILE_EXAMPLES.items():
    settings.register_profile(
        _name,
        max_examples=_examples,
        deadline=None,
        derandomize=_name == "ci",
        suppress_health_check=[HealthCheck.too_slow],
    )

PROFILE = os.environ.get(PROFILE_ENV) or "ci"
if PROFILE not in PROFILE_EXAMPLES:
    raise pytest.UsageError(
        f"{PROFILE_ENV}={PROFILE!r} is not a hypothesis profile; use one of {sorted(PROFILE_EXAMPLES)}."
    )
settings.load_profile(PROFILE)


def pytest_report_header(config):
    return f"hypothesis profile: {PROFILE} ({PROFILE_EXAMPLES[PROFILE]} examples; set {PROFILE_ENV} to change)"


def pytest_collection_modifyitems(config, items):
    """Give every sweep-marked hypothesis test the loaded profile's example count."""
    for item in items:
        if item.get_closest_marker("sweep") is None:
            continue
        test = getattr(item, "obj", None)
        current = getattr(test, "_hypothesis_internal_use_settings", None)
        if current is not None and current.max_examples != settings.default.max_examples:
            test._hypothesis_internal_use_settings = settings(
                current, max_examples=settings.default.max_examples
            )
