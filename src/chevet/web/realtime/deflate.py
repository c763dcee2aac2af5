"""permessage-deflate for the realtime stream, compressed once per event and held by no idle
connection.

With the usual context takeover every connection keeps two zlib contexts for its whole life
(about 37 KiB, more than the rest of an idle connection) and compresses every event once per
receiver. Here both directions are negotiated without context takeover (RFC 7692 §7.1.1): each
message is compressed on its own, so an idle connection holds no zlib state, and the compressed
form of an event depends only on its bytes and the window size, so it is computed once and sent
to every receiver. The price is a lower ratio: about 360 bytes for a 580-byte message event,
against about 120 with context takeover.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from websockets.extensions.base import Extension
from websockets.extensions.permessage_deflate import PerMessageDeflate, ServerPerMessageDeflateFactory
from websockets.frames import Frame, Opcode
from websockets.server import ServerProtocol
from websockets.typing import ExtensionParameter

# uvicorn logs every handshake with its path and query string (the stream's token) at INFO, and
# websockets every header (cookies included) and frame at DEBUG: this protocol tells warnings only.
PROTOCOL_LOG = logging.getLogger("chevet.stream.protocol")
PROTOCOL_LOG.setLevel(logging.WARNING)

# The latest compressed events, shared by every connection of the process. An event is sent
# to its receivers within a few milliseconds, so a few hundred entries are plenty.
CACHE_ENTRIES = 256
_compressed: dict[tuple[int, bytes], bytes] = {}


class SharedDeflate(PerMessageDeflate):
    """permessage-deflate without context takeover whose output is shared between connections."""

    def encode(self, frame: Frame) -> Frame:
        if not (frame.fin and self.local_no_context_takeover and frame.opcode in (Opcode.TEXT, Opcode.BINARY)):
            return super().encode(frame)
        key = (self.local_max_window_bits, bytes(frame.data))
        data = _compressed.get(key)
        if data is None:
            data = bytes(super().encode(frame).data)
            _compressed[key] = data
            if len(_compressed) > CACHE_ENTRIES:
                del _compressed[next(iter(_compressed))]
        return Frame(frame.opcode, data, frame.fin, True, frame.rsv2, frame.rsv3)


class SharedDeflateFactory(ServerPerMessageDeflateFactory):
    def __init__(self) -> None:
        super().__init__(server_no_context_takeover=True, client_no_context_takeover=True)

    def process_request_params(self, params: Sequence[ExtensionParameter],
                               accepted_extensions: Sequence[Extension]) -> tuple[list[ExtensionParameter],
                                                                                  PerMessageDeflate]:
        response, ext = super().process_request_params(params, accepted_extensions)
        return response, SharedDeflate(ext.remote_no_context_takeover, ext.local_no_context_takeover,
                                       ext.remote_max_window_bits, ext.local_max_window_bits, ext.compress_settings)


class StreamProtocol(WebSocketsSansIOProtocol):
    """uvicorn's WebSocket protocol, offering ``SharedDeflate`` when compression is on, and
    logging neither URLs nor headers (``PROTOCOL_LOG``)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.logger = PROTOCOL_LOG
        extensions = [SharedDeflateFactory()] if self.config.ws_per_message_deflate else []
        self.conn = ServerProtocol(extensions=extensions, max_size=self.config.ws_max_size, logger=PROTOCOL_LOG)
