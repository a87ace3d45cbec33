"""PUB/SUB streams: queue and keep-latest modes, drop counting, garbage on the stream."""
from __future__ import annotations

import time

import numpy as np
import pytest
import zmq

from control.bus.streams import Publisher, Subscriber
from control.errors import CallTimeout
from tests.conftest import wait_until


def connected(pub: Publisher, sub: Subscriber, topic: str = "sync") -> None:
    """PUB/SUB joins are asynchronous: publish until the subscriber sees one, then drain."""
    def seen() -> bool:
        pub.publish(topic, None)
        try:
            sub.get(timeout=0.05, topic=topic)
            return True
        except CallTimeout:
            return False
    wait_until(seen)
    time.sleep(0.1)
    while True:
        try:
            sub.get(timeout=0.05, topic=topic)
        except CallTimeout:
            break
    sub.drops = 0


def test_queue_mode_delivers_in_order_with_arrays(endpoint):
    with Publisher(endpoint) as pub, Subscriber(pub.endpoint, ["telemetry", "sync"]) as sub:
        connected(pub, sub)
        for i in range(50):
            pub.publish("telemetry", {"step": i, "obs": np.full(3, i, np.float32)})
        pub.publish("other", "filtered out")
        got = [sub.get(timeout=5, topic="telemetry") for _ in range(50)]
        assert [s.value["step"] for s in got] == list(range(50))
        np.testing.assert_array_equal(got[-1].value["obs"], np.full(3, 49, np.float32))
        with pytest.raises(CallTimeout):
            sub.get(timeout=0.2, topic="other")
        assert sub.drops == 0


def test_bounded_queue_drops_oldest_and_counts(tcp_endpoint):
    with Publisher(tcp_endpoint) as pub, Subscriber(pub.endpoint, ["t", "sync"], maxlen=10) as sub:
        connected(pub, sub)
        for i in range(100):
            pub.publish("t", i)
        wait_until(lambda: sub.received >= 100 or sub.drops >= 90)
        values = [sub.get(timeout=1).value for _ in range(10)]
        assert values == list(range(90, 100)) and sub.drops == 90


def test_latest_mode_keeps_newest_per_topic(tcp_endpoint):
    with Publisher(tcp_endpoint) as pub, Subscriber(pub.endpoint, ["w", "sync"], mode="latest") as sub:
        connected(pub, sub)
        for version in range(20):
            pub.publish("weights", {"version": version})
        pub.publish("w2", "other topic")
        wait_until(lambda: sub.received >= 21)
        assert sub.get(timeout=1, topic="weights").value == {"version": 19}
        assert sub.get(timeout=1, topic="w2").value == "other topic"
        assert sub.drops == 19
        with pytest.raises(CallTimeout):
            sub.get(timeout=0.1, topic="weights")  # taken: nothing newer yet


def test_sequence_gaps_count_as_drops(tcp_endpoint):
    with Publisher(tcp_endpoint, hwm=5) as pub, Subscriber(pub.endpoint, ["g", "sync"], maxlen=100_000) as sub:
        connected(pub, sub)
        blob = np.zeros(200_000, np.uint8)
        for i in range(300):
            pub.publish("g", {"i": i, "blob": blob})  # faster than the subscriber: PUB drops
        pub.publish("g", {"i": 300, "blob": blob})
        time.sleep(1.0)
        seqs = []
        while True:
            try:
                seqs.append(sub.get(timeout=0.2, topic="g").seq)
            except CallTimeout:
                break
        assert seqs == sorted(seqs)
        assert sub.drops > 0  # hwm=5 against 60 MB of bursts: the publisher must have dropped
        # Every sequence number is either received or counted as dropped.
        assert len(seqs) + sub.drops == seqs[-1] - seqs[0] + 1


def test_garbage_on_the_stream_is_counted_and_skipped(tcp_endpoint):
    ctx = zmq.Context.instance()
    raw = ctx.socket(zmq.PUB)
    raw.bind(tcp_endpoint)
    with Subscriber(tcp_endpoint, [""]) as sub:
        wait_until(lambda: (raw.send_multipart([b"t", b"\xc1junk"]), sub.malformed > 0)[1])
        from control.bus import wire
        raw.send_multipart([b"t", *wire.encode(wire.Message(wire.PUBLISH, body={"topic": "t", "seq": 0,
                                                                                "value": 7}))])
        assert sub.get(timeout=5).value == 7
    raw.close()


def test_bad_subscriber_options_are_named():
    with pytest.raises(ValueError, match="mode must be one of"):
        Subscriber("tcp://127.0.0.1:1", mode="newest")
    with pytest.raises(ValueError, match="maxlen"):
        Subscriber("tcp://127.0.0.1:1", maxlen=0)
