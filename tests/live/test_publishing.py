"""What the sync's writers publish after their commits reaches the channel layer, a bounded number at a time."""

import asyncio

from vitiweb import live


class CountingLayer:
    """A channel layer that only counts: how many sends arrived, and how many were in flight at once."""

    def __init__(self):
        self.in_flight = self.most_in_flight = self.sent = 0

    async def group_send(self, group, message):
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        await asyncio.sleep(0.01)
        self.in_flight -= 1
        self.sent += 1


def test_a_burst_of_updates_is_all_sent_with_a_bounded_number_in_flight(monkeypatch):
    # Redis' connection pool refuses past 100 connections: a burst from a hundred clusters' writers
    # sent all at once lost updates to "Too many connections".
    layer = CountingLayer()
    monkeypatch.setattr(live, "get_channel_layer", lambda: layer)

    live._send({f"machine-{index}": {"type": "object.changed"} for index in range(200)})

    assert layer.sent == 200
    assert layer.most_in_flight == live._Publisher.IN_FLIGHT
