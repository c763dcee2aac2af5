"""JSON answers encoded with orjson (several times faster than the standard library's encoder,
and the same compact output). FastAPI's own ``ORJSONResponse`` is deprecated."""

from __future__ import annotations

from typing import Any

import orjson
from starlette.responses import JSONResponse


class Json(JSONResponse):
    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)
