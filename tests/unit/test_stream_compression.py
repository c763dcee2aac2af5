"""Shared permessage-deflate: one compression per event, valid for every receiver."""

from __future__ import annotations

import zlib

from websockets.frames import Frame, Opcode

from chevet.web.realtime import deflate
from chevet.web.realtime.deflate import SharedDeflateFactory

OFFER = [("server_no_context_takeover", None), ("client_max_window_bits", None)]


def _inflate(data: bytes) -> bytes:
    return zlib.decompressobj(wbits=-15).decompress(data + b"\x00\x00\xff\xff")


def test_an_event_is_compressed_once_for_every_connection() -> None:
    factory = SharedDeflateFactory()
    params, a = factory.process_request_params(OFFER, [])
    _, b = factory.process_request_params(OFFER, [])
    assert ("client_no_context_takeover", None) in params and ("server_no_context_takeover", None) in params
    event = ('{"type":"message","body":"' + "Tension 12/8, à revoir à 14 h. " * 8 + '"}').encode()
    first = a.encode(Frame(Opcode.TEXT, event))
    again = b.encode(Frame(Opcode.TEXT, event))
    assert first.rsv1 and again.rsv1
    assert first.data is again.data  # the second connection reused the first one's work
    assert len(first.data) < len(event) and _inflate(bytes(first.data)) == event
    other = a.encode(Frame(Opcode.TEXT, b'{"type":"pong"}'))
    assert _inflate(bytes(other.data)) == b'{"type":"pong"}'


def test_the_cache_stays_bounded() -> None:
    _, ext = SharedDeflateFactory().process_request_params(OFFER, [])
    for i in range(deflate.CACHE_ENTRIES + 50):
        ext.encode(Frame(Opcode.TEXT, f'{{"seq":{i}}}'.encode()))
    assert len(deflate._compressed) == deflate.CACHE_ENTRIES
