"""An orjson transcoder writing exactly the bytes of the library's JSON transcoder.

The library encodes events with ``json.JSONEncoder(separators=(",", ":"), ensure_ascii=False)``
and wraps every non-JSON value in ``{"_type_": name, "_data_": encoded}``. orjson writes the same
bytes for the values our events hold (strings, whole numbers, booleans, null, lists, string-keyed
dicts, and the registered transcodings), two to three times faster. Anything else (a float, whose
text orjson and json may write differently; a UUID, which orjson would write natively; a subclass;
a number beyond 64 bits) goes through the library's own encoder, so the stored format never
changes (``tests/unit/test_transcoder.py`` proves the bytes equal on every kind of event).
"""

from __future__ import annotations

from enum import Enum
from typing import Any
from uuid import UUID

import orjson
from eventsourcing.persistence import JSONTranscoder, Transcoding

_PLAIN = frozenset({str, int, bool, type(None)})
_NATIVE = (str, int, float, dict, list, tuple, UUID, Enum)
"""Types orjson writes itself (a UUID as its canonical text, not as the library's transcoding):
a transcoding registered for one of them goes through the library."""
_OPTIONS = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS


class OrjsonTranscoder(JSONTranscoder):
    """The library's JSON format, written and read with orjson where the bytes are provably the
    same, and by the library otherwise."""

    def __init__(self) -> None:
        super().__init__()
        self._defaulted: frozenset[type] = frozenset()

    def register(self, transcoding: Transcoding) -> None:
        super().register(transcoding)
        self._defaulted = frozenset(t for t in self.types if not issubclass(t, _NATIVE))

    def encode(self, obj: Any) -> bytes:
        if type(obj) is dict and self._plain(obj):
            try:
                return orjson.dumps(obj, default=self._default, option=_OPTIONS)
            except (orjson.JSONEncodeError, TypeError):
                pass  # a non-string key, a number beyond 64 bits...: the library decides
        return super().encode(obj)

    def decode(self, data: bytes) -> Any:
        try:
            value = orjson.loads(data)
        except orjson.JSONDecodeError:
            return super().decode(data)  # NaN, Infinity...
        try:
            return self._revive(value)
        except _Float:
            # orjson reads a number beyond 64 bits as a float, and a float's last digit may
            # differ: the library reads what holds one.
            return super().decode(data)

    def _plain(self, container: dict[str, Any] | list[Any]) -> bool:
        """Whether every value inside is one orjson writes as the library does."""
        defaulted = self._defaulted
        values = container.values() if isinstance(container, dict) else container
        for value in values:
            kind = type(value)
            if kind in _PLAIN or kind in defaulted:
                continue
            if kind is dict or kind is list:
                if not self._plain(value):
                    return False
                continue
            return False
        return True

    def _default(self, obj: Any) -> dict[str, Any]:
        transcoding = self.types.get(type(obj))
        if transcoding is None:
            raise TypeError(type(obj).__name__)
        data = transcoding.encode(obj)
        if type(data) not in _PLAIN:
            raise TypeError(type(data).__name__)  # nested transcodings: the library's way
        return {"_type_": transcoding.name, "_data_": data}

    def _revive(self, value: Any) -> Any:
        """The library's object hook, applied innermost first, in place (raises _Float on a
        float)."""
        kind = type(value)
        if kind is dict:
            for key, item in value.items():
                if type(item) is dict or type(item) is list:
                    value[key] = self._revive(item)
                elif type(item) is float:
                    raise _Float
            if len(value) == 2 and "_type_" in value and "_data_" in value:
                return self._decode_obj(value)
            return value
        if kind is list:
            for index, item in enumerate(value):
                if type(item) is dict or type(item) is list:
                    value[index] = self._revive(item)
                elif type(item) is float:
                    raise _Float
        elif kind is float:
            raise _Float
        return value


class _Float(Exception):
    """A float in decoded data: the library decodes it."""
