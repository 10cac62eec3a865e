"""How an executor takes jobs off the queue: the first the moment it is delivered, then whatever else is queued.

nats-py's `fetch(n)` with n > 1 sends a lingering pull request for n
messages once a no-wait probe found none; a job delivered to that request
is handed over only when the request fills up or expires, up to the fetch's
timeout later. An idle executor sits in such fetches, so a lone job waited
up to 2 s now and then: measured on a local nats-server, jobs published at
random moments to a loop of `fetch(16, timeout=2)` waited 0.8 ms at the
median and 340 ms to 1.26 s for a few in every hundred; the million-bar
bench's sync execute saw one such 707 ms wait in eight. So the first job
is fetched alone (`fetch(1)` returns the moment it is delivered), and the
others already queued, which its metadata counts (`num_pending`), are taken
by one no-wait pull request without `expires`, which the server answers at
once with what it has (nats-py adds `expires` to its own no-wait probe,
which makes the server hold it as a lingering pull).

When the executor is busy (one of its takes of the last second held several
jobs, or others are queued behind the first), the others are taken by a pull request that
expires after `gather_s` instead: what is queued comes at once, and jobs
arriving within that time join the batch. Under a burst of small executes
from clients that each wait for their answer, jobs arrive a few at a time
while both executors are busy; an executor that took only what was queued
at that instant ran batches of ~4 jobs (a fifth of them of one), each
paying two artifact PUTs, StartJobs and CompleteJobs. A lone job on a
quiet executor is never held back: it is neither busy nor has others queued.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import nats.errors
from nats.js import api
from nats.js.client import JetStreamContext

# How long the no-wait request's answer may take: a round trip to the server, unless it is away.
NO_WAIT_REPLY_S = 1.0


async def take_jobs(
    sub,
    most: int,
    *,
    timeout: float,
    more: Callable[[Any], bool] = lambda message: True,
    gather_s: float = 0.0,
    busy: bool = False,
) -> list:
    """The next delivered job message, and up to `most` - 1 others queued behind it (or arriving soon after).

    sub: a JetStream pull subscription (nats-py's PullSubscription).
    timeout: seconds to wait for the first; nats.errors.TimeoutError when none came.
    more: whether the first message is worth taking others with (a job that can be computed with
        others). When it is not, the others stay queued for any executor: one executor holding a
        grid search's jobs it can only run one after another would leave the others idle.
    gather_s: how long to wait for others to arrive when the executor is busy (`busy`, or others are
        queued behind the first); 0 takes only those queued now.
    busy: whether the executor is busy (Worker.consume: a take of the last second held several jobs).
    """
    taken = await sub.fetch(1, timeout=timeout)
    if most <= 1 or not more(taken[0]):
        return taken
    queued = taken[0].metadata.num_pending or 0
    if gather_s > 0 and (busy or queued > 0):
        return taken + await _gathered(sub, most - 1, gather_s)
    if queued <= 0:
        return taken
    return taken + await _queued(sub, min(most - 1, queued))


async def _gathered(sub, batch: int, seconds: float) -> list:
    """Up to `batch` messages: those queued now and those arriving within `seconds` (a pull request that expires).

    The request ends when it has `batch` messages or with the server's 408 at its expiry; waiting
    for that status means no message of this request is left in the inbox behind the take.
    """
    request = {"expires": int(seconds * 1e9)}
    return await _pull(sub, batch, request, until=time.monotonic() + seconds + NO_WAIT_REPLY_S)


async def _queued(sub, batch: int) -> list:
    """Up to `batch` messages queued for the consumer now, without waiting for more (a no-wait pull request).

    A status message ends the request: the server's "no messages" (404) or a stale one of an
    earlier fetch, which at worst leaves a job for the next fetch, which takes it from the inbox at once.
    """
    return await _pull(sub, batch, {"no_wait": True}, until=None)


async def _pull(sub, batch: int, request: dict, *, until: float | None) -> list:
    """The messages of one pull request for up to `batch`, until a status other than a heartbeat ends it.

    Uses the pull subscription's request subject and inbox, as its own fetch does.
    until: monotonic deadline of the whole request; None: each message may take NO_WAIT_REPLY_S.
    """
    await sub._nc.publish(sub._nms, json.dumps({"batch": batch, **request}).encode(), sub._deliver)
    taken: list = []
    try:
        while len(taken) < batch:
            wait = NO_WAIT_REPLY_S if until is None else max(0.001, until - time.monotonic())
            message = await sub._sub.next_msg(timeout=wait)
            status = JetStreamContext.is_status_msg(message)
            if status is None:
                taken.append(message)
            elif status != api.StatusCode.CONTROL_MESSAGE:  # heartbeats are skipped; 404, 408 or a stale status end it
                break
    except nats.errors.TimeoutError:  # NATS away: go on with the jobs in hand
        pass
    return taken
