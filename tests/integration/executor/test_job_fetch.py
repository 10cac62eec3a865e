"""How an executor takes jobs off a real JetStream consumer (services.executor.job_fetch).

A lone job is handed over the moment it is delivered, however long the
executor has been waiting; jobs already queued come with it, up to the most
asked for; an empty queue times out after the wait asked for.
"""

from __future__ import annotations

import asyncio
import random
import time
import uuid

import nats
import pytest
from nats.js import api

from services.executor.job_fetch import take_jobs


async def _consumer(nats_url: str):
    """(connection, JetStream, subject, pull subscription) on a fresh stream with one durable consumer."""
    nc = await nats.connect(nats_url)
    js = nc.jetstream()
    name = f"FETCH{uuid.uuid4().hex[:8]}"
    subject = f"{name.lower()}.jobs"
    await js.add_stream(name=name, subjects=[subject])
    await js.add_consumer(name, api.ConsumerConfig(durable_name="w", ack_policy=api.AckPolicy.EXPLICIT))
    return nc, js, subject, await js.pull_subscribe_bind(durable="w", stream=name)


def test_queued_jobs_come_together_up_to_the_most_asked_for(nats_url):
    async def scenario() -> list[list[int]]:
        nc, js, subject, sub = await _consumer(nats_url)
        try:
            sizes = []
            for queued in (10, 20, 1):
                for i in range(queued):
                    await js.publish(subject, str(i).encode())
                taken: list = []
                takes = []
                while len(taken) < queued:
                    take = await take_jobs(sub, 16, timeout=2)
                    takes.append(len(take))
                    taken += take
                assert [m.data for m in taken] == [str(i).encode() for i in range(queued)]
                for message in taken:
                    await message.ack()
                sizes.append(takes)
            return sizes
        finally:
            await nc.close()

    # 20 queued: the first take holds 16 (the most asked for), the next the other 4.
    assert asyncio.run(scenario()) == [[10], [16, 4], [1]]


def test_a_job_not_worth_company_leaves_the_queued_ones_for_other_executors(nats_url):
    async def scenario() -> list[int]:
        nc, js, subject, sub = await _consumer(nats_url)
        try:
            for i in range(5):
                await js.publish(subject, (b"alone" if i < 2 else b"batchable") + str(i).encode())
            takes = []
            for _ in range(3):
                take = await take_jobs(sub, 16, timeout=2, more=lambda m: m.data.startswith(b"batchable"))
                takes.append([m.data for m in take])
                for message in take:
                    await message.ack()
            return takes
        finally:
            await nc.close()

    # The first two may not coalesce (a sweep's jobs): each comes alone; the third takes the rest.
    assert asyncio.run(scenario()) == [[b"alone0"], [b"alone1"], [b"batchable2", b"batchable3", b"batchable4"]]


def test_a_lone_job_is_handed_over_the_moment_it_is_delivered(nats_url):
    """Jobs published at random moments to an executor taking jobs in a loop, as Worker.consume does.

    Each take's wait is short here (0.25 s instead of 2 s) so that many takes expire during the
    test: `fetch(16)` held one job in a few dozen until its lingering request expired (waits of
    50-140 ms). Under the full parallel test run on two cores, the NATS server or this process
    is at times not scheduled for a few hundred ms (waits up to 0.64 s seen); a watcher pings the
    server through this connection every 10 ms and records round trips over 30 ms as stalls,
    and a long wait counts as a hold only when the server and the loop answered promptly all
    through it.
    """

    async def scenario() -> tuple[list[tuple[float, float]], list[tuple[float, float]]]:
        nc, js, subject, sub = await _consumer(nats_url)
        received: dict[bytes, float] = {}
        stop = asyncio.Event()
        stalls: list[tuple[float, float]] = []

        ping = f"ping.{uuid.uuid4().hex}"

        async def pong(message) -> None:
            await message.respond(b"")

        await nc.subscribe(ping, cb=pong)

        async def watch_the_loop() -> None:
            while not stop.is_set():
                began = time.perf_counter()
                await nc.request(ping, b"", timeout=5)
                if time.perf_counter() - began > 0.03:
                    stalls.append((began, time.perf_counter()))
                await asyncio.sleep(0.01)

        async def consume() -> None:
            while not stop.is_set():
                try:
                    taken = await take_jobs(sub, 16, timeout=0.25)
                except nats.errors.TimeoutError:
                    continue
                for message in taken:
                    received[message.data] = time.perf_counter()
                    await message.ack()

        consumer = asyncio.create_task(consume())
        watcher = asyncio.create_task(watch_the_loop())
        published = {}
        rng = random.Random(16)
        try:
            for i in range(60):
                await asyncio.sleep(rng.uniform(0.0, 0.3))
                published[str(i).encode()] = time.perf_counter()
                await js.publish(subject, str(i).encode())
            await asyncio.sleep(0.5)
        finally:
            stop.set()
            await consumer
            await watcher
            await nc.close()
        return [(sent, received[key]) for key, sent in published.items()], stalls

    spans, stalls = asyncio.run(scenario())
    long = [(sent, got) for sent, got in spans if got - sent >= 0.05]
    held = [got - sent for sent, got in long if not any(a < got and b > sent for a, b in stalls)]
    assert len(spans) == 60 and not held and len(long) <= 5, (held, [got - sent for sent, got in long], stalls)


def test_an_empty_queue_times_out_after_the_wait_asked_for(nats_url):
    async def scenario() -> float:
        nc, _, _, sub = await _consumer(nats_url)
        try:
            began = time.perf_counter()
            with pytest.raises(nats.errors.TimeoutError):
                await take_jobs(sub, 16, timeout=0.3)
            return time.perf_counter() - began
        finally:
            await nc.close()

    assert 0.25 < asyncio.run(scenario()) < 1.5


def test_a_busy_take_gathers_the_jobs_arriving_soon_after_the_first(nats_url):
    async def scenario() -> tuple[list[bytes], float, list[bytes], float]:
        nc, js, subject, sub = await _consumer(nats_url)
        try:
            await js.publish(subject, b"0")

            async def later() -> None:
                await asyncio.sleep(0.05)
                for i in (1, 2, 3):
                    await js.publish(subject, str(i).encode())

            arriving = asyncio.create_task(later())
            began = time.perf_counter()
            take = await take_jobs(sub, 16, timeout=2, gather_s=0.3, busy=True)
            took = time.perf_counter() - began
            await arriving
            for message in take:
                await message.ack()
            # Nothing of the expired request stays behind: a job published now comes at once, alone.
            await js.publish(subject, b"4")
            began = time.perf_counter()
            after = await take_jobs(sub, 16, timeout=2, gather_s=0.3, busy=False)
            for message in after:
                await message.ack()
            return [m.data for m in take], took, [m.data for m in after], time.perf_counter() - began
        finally:
            await nc.close()

    take, took, after, after_took = asyncio.run(scenario())
    assert take == [b"0", b"1", b"2", b"3"]
    assert 0.25 < took < 1.0  # waited out the gather
    assert after == [b"4"] and after_took < 0.1  # not busy, nothing queued behind it: no wait


def test_a_take_with_jobs_queued_behind_the_first_gathers_and_ends_once_full(nats_url):
    async def scenario() -> tuple[list[list[bytes]], list[float]]:
        nc, js, subject, sub = await _consumer(nats_url)
        try:
            for i in range(6):
                await js.publish(subject, str(i).encode())
            takes, times = [], []
            for _ in range(2):
                began = time.perf_counter()
                take = await take_jobs(sub, 4, timeout=2, gather_s=1.0)
                times.append(time.perf_counter() - began)
                takes.append([m.data for m in take])
                for message in take:
                    await message.ack()
            return takes, times
        finally:
            await nc.close()

    takes, times = asyncio.run(scenario())
    # The first take is full at once (4 of 6 queued); the second has 2 queued and waits out the gather.
    assert takes == [[b"0", b"1", b"2", b"3"], [b"4", b"5"]]
    assert times[0] < 0.5 and 0.9 < times[1] < 2.5, times
