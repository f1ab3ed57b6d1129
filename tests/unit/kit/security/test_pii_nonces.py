"""Seal nonces come from the OS in blocks and are never handed out twice: across blocks, threads and a fork."""

from __future__ import annotations

import os
import threading

from services.kit.security.pii import cipher
from services.kit.security.pii.keyring import NONCE_BYTES


def _remaining() -> list[bytes]:
    block, at = cipher._nonces.block, cipher._nonces.at
    return [block[i : i + NONCE_BYTES] for i in range(at, len(block), NONCE_BYTES)]


def test_nonces_over_several_blocks_are_all_distinct_and_of_nonce_length() -> None:
    taken = [cipher._nonces.take() for _ in range(cipher.NONCE_BLOCK * 3 + 7)]
    assert {len(n) for n in taken} == {NONCE_BYTES}
    assert len(set(taken)) == len(taken)


def test_threads_draw_from_blocks_of_their_own() -> None:
    found: list[list[bytes]] = [[], []]

    def draw(into: list[bytes]) -> None:
        into.extend(cipher._nonces.take() for _ in range(cipher.NONCE_BLOCK + 1))

    workers = [threading.Thread(target=draw, args=(into,)) for into in found]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert len(set(found[0]) | set(found[1])) == 2 * (cipher.NONCE_BLOCK + 1)


def test_a_forked_child_never_takes_a_nonce_its_parent_still_holds() -> None:
    cipher._nonces.take()
    reader, writer = os.pipe()
    child = os.fork()
    if child == 0:  # pragma: no cover - runs in the child
        os.write(writer, cipher._nonces.take())
        os._exit(0)
    os.close(writer)
    from_child = os.read(reader, NONCE_BYTES)
    os.close(reader)
    os.waitpid(child, 0)
    assert len(from_child) == NONCE_BYTES
    assert from_child not in _remaining()
