"""Backoff between retries: client-go's reflector schedule, and Retry-After respected."""

from __future__ import annotations

import email.utils

import pytest

from vitiweb.kube.backoff import Backoff, BackoffPolicy
from vitiweb.kube.errors import parse_retry_after


class FakeClock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def no_jitter():
    return 0.0


def full_jitter():
    return 0.999999


def test_delays_start_at_800ms_and_double_up_to_a_30s_cap():
    clock = FakeClock()
    backoff = Backoff(BackoffPolicy(), clock=clock, rng=no_jitter)
    delays = []
    for _ in range(9):
        delays.append(backoff.next_delay())
        clock.now += 1
    assert delays == pytest.approx([0.8, 1.6, 3.2, 6.4, 12.8, 25.6, 30.0, 30.0, 30.0])


def test_jitter_stretches_a_delay_by_at_most_the_jitter_fraction_and_never_past_the_cap():
    clock = FakeClock()
    backoff = Backoff(BackoffPolicy(jitter=0.5), clock=clock, rng=full_jitter)
    first = backoff.next_delay()
    assert 0.8 < first < 0.8 * 1.5 + 1e-9
    for _ in range(10):
        clock.now += 1
        assert backoff.next_delay() <= 30.0


def test_jittered_delays_differ_between_watchers():
    import random

    delays = {round(Backoff(rng=random.Random(seed).random).next_delay(), 6) for seed in range(20)}
    assert len(delays) > 10
    assert all(0.8 <= d <= 1.2 for d in delays)


def test_a_failure_after_a_healthy_period_starts_again_from_the_initial_delay():
    clock = FakeClock()
    backoff = Backoff(BackoffPolicy(reset_after=120), clock=clock, rng=no_jitter)
    for _ in range(5):
        backoff.next_delay()
        clock.now += 1
    clock.now += 121
    assert backoff.next_delay() == pytest.approx(0.8)


def test_reset_forgets_the_streak():
    backoff = Backoff(rng=no_jitter)
    backoff.next_delay()
    backoff.next_delay()
    backoff.reset()
    assert backoff.next_delay() == pytest.approx(0.8)


def test_retry_after_is_never_undercut():
    backoff = Backoff(rng=no_jitter)
    assert backoff.next_delay(retry_after=7) == pytest.approx(7.0)
    assert backoff.next_delay(retry_after=0.1) == pytest.approx(1.6)


def test_an_absurd_retry_after_is_capped():
    backoff = Backoff(BackoffPolicy(max_retry_after=600), rng=no_jitter)
    assert backoff.next_delay(retry_after=86400) == pytest.approx(600)


def test_the_exponent_does_not_overflow_after_many_failures():
    assert BackoffPolicy().base(5000) == 30.0


@pytest.mark.parametrize(
    "value, expected", [("3", 3.0), (" 2.5 ", 2.5), ("0", 0.0), ("-4", 0.0), ("", None), (None, None), ("soon", None)]
)
def test_retry_after_in_seconds(value, expected):
    assert parse_retry_after(value) == expected


def test_retry_after_as_an_http_date():
    now = 1_700_000_000.0
    header = email.utils.formatdate(now + 42, usegmt=True)
    assert parse_retry_after(header, now=now) == pytest.approx(42, abs=1)
    assert parse_retry_after(email.utils.formatdate(now - 42, usegmt=True), now=now) == 0.0
