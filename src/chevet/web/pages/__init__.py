"""The web client: server-rendered pages (French first, English available) enhanced by a
little hand-written JavaScript. Reading and sending work without JavaScript.

Each module here with a ``router`` is included; ``page`` holds what every page shares."""
