"""The embedded stack's free ports: below the ephemeral range, distinct, never one already bound."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from deploy.embedded import ports


def test_ephemeral_start_reads_the_first_port_of_the_range(tmp_path: Path) -> None:
    source = tmp_path / "range"
    source.write_text("32768\t60999\n")
    assert ports.ephemeral_start(source) == 32768
    source.write_text("garbage\n")
    assert ports.ephemeral_start(source) is None
    assert ports.ephemeral_start(tmp_path / "missing") is None


def test_ports_are_distinct_below_the_ephemeral_range_and_can_be_listened_on(monkeypatch) -> None:
    monkeypatch.setattr(ports, "ephemeral_start", lambda: 32768)
    chosen = ports.free_ports(20)
    assert len(set(chosen)) == 20
    assert all(ports.LOWEST_PORT <= port < 32768 for port in chosen), chosen
    for port in chosen:
        with socket.socket() as server:
            server.bind((ports.LOOPBACK, port))
            server.listen()


def test_a_port_someone_holds_is_skipped(monkeypatch) -> None:
    monkeypatch.setattr(ports, "ephemeral_start", lambda: 32768)
    with socket.socket() as holder:
        holder.bind((ports.LOOPBACK, 0))
        holder.listen()
        taken = holder.getsockname()[1]
        spare = ports.free_ports(2)  # ports free right now, not constants another stack may hold
        draws = iter([taken, taken, *spare])

        def draw(low: int, high: int) -> int:
            assert (low, high) == (ports.LOWEST_PORT, 32768)
            return next(draws)

        monkeypatch.setattr(ports.random, "randrange", draw)
        chosen = ports.free_ports(1)
    assert chosen != [taken] and chosen[0] in spare


def test_the_same_draw_twice_gives_two_ports(monkeypatch) -> None:
    monkeypatch.setattr(ports, "ephemeral_start", lambda: 32768)
    # Ports free right now: fixed numbers failed a CI run when a parallel test's stack held one.
    first, second = ports.free_ports(2)
    draws = iter([first, first, second])
    monkeypatch.setattr(ports.random, "randrange", lambda low, high: next(draws))
    assert ports.free_ports(2) == [first, second]


@pytest.mark.parametrize("start", [None, ports.LOWEST_PORT + 10])
def test_without_room_below_the_range_the_kernel_chooses(monkeypatch, start) -> None:
    monkeypatch.setattr(ports, "ephemeral_start", lambda: start)
    monkeypatch.setattr(ports.random, "randrange", lambda low, high: pytest.fail("drew below a range with no room"))
    chosen = ports.free_ports(3)
    assert len(set(chosen)) == 3 and all(0 < port < 65536 for port in chosen)
