"""Capped exponential backoff with jitter, after client-go's reflector.

client-go's reflector waits 0.8s after its first failure, doubles each time up
to 30s, adds jitter so a fleet of watchers that lost the same server do not
come back in step, and forgets the streak after two healthy minutes. A
server's ``Retry-After`` (429, 503) says when it wants to hear from us again:
we never come back sooner than that.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class BackoffPolicy:
    initial: float = 0.8
    factor: float = 2.0
    cap: float = 30.0
    #: Each delay is stretched by up to this fraction: ``base * (1 + jitter * U[0,1))``, then capped.
    jitter: float = 0.5
    #: A failure more than this many seconds after the previous one starts a new streak.
    reset_after: float = 120.0
    #: A longer ``Retry-After`` than this is not believed (a broken proxy must not park us for a day).
    max_retry_after: float = 600.0

    def base(self, attempt: int) -> float:
        """Un-jittered delay before retry number ``attempt`` (0-based), capped."""
        if attempt <= 0:
            return min(self.initial, self.cap)
        # Cap the exponent too: factor ** 1000 overflows a float.
        delay = self.initial
        for _ in range(attempt):
            delay *= self.factor
            if delay >= self.cap:
                return self.cap
        return min(delay, self.cap)


class Backoff:
    """The delay before the next retry; call ``next_delay()`` once per failure."""

    def __init__(
        self,
        policy: BackoffPolicy | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        rng: Callable[[], float] = random.random,
    ):
        self.policy = policy or BackoffPolicy()
        self._clock = clock
        self._rng = rng
        self.attempt = 0
        self._last_failure: float | None = None

    def next_delay(self, retry_after: float | None = None) -> float:
        policy = self.policy
        now = self._clock()
        if self._last_failure is not None and now - self._last_failure > policy.reset_after:
            self.attempt = 0
        self._last_failure = now
        base = policy.base(self.attempt)
        self.attempt += 1
        delay = min(policy.cap, base * (1.0 + policy.jitter * self._rng()))
        if retry_after is not None:
            delay = max(delay, min(float(retry_after), policy.max_retry_after))
        return delay

    def reset(self) -> None:
        self.attempt = 0
        self._last_failure = None
