"""Rows measured beside the bench's own: the plug-in point of the peer libraries.

The peers (``genstrat/peers/``) sit above the bench: they measure their rows with the bench's own ``measure`` and
register themselves here when imported (``genstrat.api`` imports them), so nothing in ``benchmark/`` imports them.
"""

from __future__ import annotations

from genstrat.errors import GenstratError

_PEERS: dict = {"names": (), "rows": None}


def register_peers(names: tuple[str, ...], rows) -> None:
    """``rows(data, out, config, evaluator, conditions, store, progress) -> list[dict]``: every wanted peer's rows."""
    _PEERS.update(names=tuple(names), rows=rows)


def peer_names() -> tuple[str, ...]:
    return _PEERS["names"]


def peer_rows(*args, **kwargs) -> list[dict]:
    if _PEERS["rows"] is None:
        raise GenstratError("no peers are registered: import genstrat.peers (genstrat.api does) before a bench with "
                            "--peers")
    return _PEERS["rows"](*args, **kwargs)
