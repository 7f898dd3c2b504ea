"""The body of ``POST /predict``, and what is wrong with a body that is not one, as one line naming the field.

FastAPI answers a body it cannot read with pydantic's list of error records (type, location, message,
input); a client's author needs the field and what was expected: ``texts[3]: expected a string, got the
number 5``. ``describe`` condenses the records so; ``check_limits`` refuses what is too large to take.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel, ConfigDict, model_validator
from pydantic_core import PydanticCustomError

from textlab.serve.predictor import InputKind
from textlab.serve.settings import ServeSettings

INPUTS = ("text", "texts", "tokens")
SHAPE = 'a JSON object with one of "text": "...", "texts": ["...", ...] or "tokens": [["...", ...], ...]'


class PredictRequest(BaseModel):
    """Exactly one of ``text``, ``texts`` and ``tokens``; ``confidences`` to add the probabilities."""

    # strict: no guessing that 1 or "yes" means true, or that 5 is the text "5"
    model_config = ConfigDict(extra="forbid", strict=True)

    text: str | None = None
    texts: list[str] | None = None
    tokens: list[list[str]] | None = None
    confidences: bool = False

    @model_validator(mode="after")
    def _one_input(self) -> PredictRequest:
        given = [name for name in INPUTS if getattr(self, name) is not None]
        if len(given) != 1:
            found = "none was given" if not given else f"got {' and '.join(given)}"
            raise PydanticCustomError("one_input", f"give exactly one of text, texts or tokens; {found}")
        return self

    def inputs(self) -> tuple[InputKind, list, list[str]]:
        """The input kind, its items and each item's name in the request (for messages)."""
        if self.text is not None:
            return "texts", [self.text], ["text"]
        if self.texts is not None:
            return "texts", self.texts, [f"texts[{i}]" for i in range(len(self.texts))]
        return "tokens", self.tokens, [f"tokens[{i}]" for i in range(len(self.tokens))]


class TooLarge(Exception):
    """A request over one of the limits; the message names the field and the option."""


def check_limits(kind: InputKind, items: list, names: list[str], settings: ServeSettings) -> None:
    """Raise ``TooLarge`` for more items than ``--max_texts`` or an item over ``--max_text_chars``."""
    if len(items) > settings.max_texts:  # only texts and tokens can hold several
        what = "sentences" if kind == "tokens" else "texts"
        raise TooLarge(f"{kind}: {len(items)} {what}, the limit is {settings.max_texts} (--max_texts)")
    for name, item in zip(names, items):
        # a sentence of tokens as the text they make joined by spaces: its separators count, as do its tokens
        chars = len(item) if kind == "texts" else sum(map(len, item)) + max(len(item) - 1, 0)
        if chars > settings.max_text_chars:
            raise TooLarge(f"{name}: {chars} characters, the limit is {settings.max_text_chars} (--max_text_chars)")


def describe(errors: list[dict[str, Any]]) -> tuple[int, str]:
    """The status and the one line for FastAPI's errors on a body: 400 not JSON, 415 not sent as JSON, else 422."""
    first = errors[0]
    kind, where = first.get("type", ""), _field(first.get("loc", ()))
    more = f" (and {len(errors) - 1} more problems)" if len(errors) > 1 else ""
    if kind == "json_invalid":
        reason, position = first.get("ctx", {}).get("error", "cannot be read"), first["loc"][-1]
        return 400, f"body is not JSON: {reason} at character {position}"
    if isinstance(first.get("input"), bytes):  # FastAPI hands over the bytes when the Content-Type is not JSON
        return 415, "body: send it as JSON, with the header Content-Type: application/json"
    if kind == "missing" and where == "body":
        return 422, f"body: missing; expected {SHAPE}"
    if kind == "extra_forbidden":
        return 422, f'{where}: unknown field (expected "text", "texts" or "tokens", and "confidences"){more}'
    if kind == "one_input":
        return 422, f"body: {first['msg']}"
    expected = _EXPECTED.get(kind)
    if expected is None:
        return 422, f"{where}: {first.get('msg', kind)}{more}"
    if where == "body":
        expected = SHAPE
    return 422, f"{where}: expected {expected}, got {_json_type(first.get('input'))}{more}"


# pydantic's error types (strict mode) -> what the field should have been
_EXPECTED = {"string_type": "a string", "list_type": "an array", "bool_type": "true or false",
             "model_type": "an object", "dict_type": "an object", "model_attributes_type": "an object"}


def _field(loc: tuple | list) -> str:
    """``("body", "texts", 3)`` -> ``texts[3]``; the body itself -> ``body``."""
    parts = list(loc[1:]) if loc and loc[0] == "body" else list(loc)
    if not parts:
        return "body"
    name = str(parts[0])
    for part in parts[1:]:
        name += f"[{part}]" if isinstance(part, int) else f".{part}"
    return name


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return json.dumps(value)
    if isinstance(value, (int, float)):
        return f"the number {value}"
    if isinstance(value, str):
        return f"the string {json.dumps(value, ensure_ascii=False)}" if len(value) <= 40 else "a string"
    if isinstance(value, (list, tuple)):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__
