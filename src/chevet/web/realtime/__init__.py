"""The realtime side of the web client: the WebSocket stream (``stream``) driven by its
sans-I/O protocol (``protocol``), the shared per-message deflate (``deflate``) and the Web
Push notifier fed by the same committed events (``notifier``)."""
