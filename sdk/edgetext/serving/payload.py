"""Request bodies -> checked texts and options, with the library's own input errors.

    obj = parse_json(body)                         # MalformedRequestError: not JSON, not an object
    req = classify_request(obj, config)            # texts, top_k; InputTypeError / InvalidInputError /
                                                   # PayloadTooLargeError naming the field and the limit

Texts are checked by ``edgetext.preprocess.check_texts`` (the checks ``classify_batch`` makes) plus
the server's limits: texts per request, characters per text, and well-formed Unicode (a lone
surrogate, which JSON can carry, is refused here rather than failing a whole engine batch).

May import: the standard library, edgetext.errors, edgetext.preprocess and edgetext.serving.config.
"""
from __future__ import annotations

import json
from dataclasses import dataclass

from ..errors import InputTypeError, InvalidInputError
from ..preprocess import check_text, check_texts
from .config import ServeConfig


class MalformedRequestError(InvalidInputError):
    """The body is not a JSON object (HTTP 400)."""


class PayloadTooLargeError(InvalidInputError):
    """The body, the number of texts or a text is over the server's limit (HTTP 413)."""


@dataclass(frozen=True)
class TextsRequest:
    """What a text endpoint runs: the texts, and the options of its endpoint."""

    texts: list[str]
    top_k: int = 1


def parse_json(body: bytes) -> dict:
    """The request body as a JSON object."""
    if not body.strip():
        raise MalformedRequestError('the request body is empty: send a JSON object such as {"texts": ["..."]}')
    try:
        obj = json.loads(body.decode("utf-8"))
    except UnicodeDecodeError as e:
        raise MalformedRequestError(f"the request body is not valid UTF-8 (bad byte 0x{body[e.start]:02x} at byte "
                                    f"{e.start})") from None
    except json.JSONDecodeError as e:
        raise MalformedRequestError(f"the request body is not valid JSON: {e.msg} at line {e.lineno} column "
                                    f"{e.colno}") from None
    except RecursionError:
        raise MalformedRequestError("the request body is JSON nested too deeply") from None
    if not isinstance(obj, dict):
        raise MalformedRequestError(f"the request body must be a JSON object such as {{\"texts\": [\"...\"]}}, "
                                    f"not a JSON {_json_type(obj)}")
    return obj


def _json_type(value: object) -> str:
    return {dict: "object", list: "array", str: "string", bool: "boolean", int: "number", float: "number",
            type(None): "null"}.get(type(value), type(value).__name__)


def _check_fields(obj: dict, accepted: tuple[str, ...]) -> None:
    unknown = sorted(set(obj) - set(accepted))
    if unknown:
        raise InvalidInputError(f"unknown field {unknown[0]!r} (accepted: {', '.join(accepted)})")


def texts_of(obj: dict, config: ServeConfig) -> list[str]:
    """`texts` (a list of str) or `text` (one str) of a request object, within the server's limits."""
    if ("text" in obj) == ("texts" in obj):
        raise InvalidInputError('send either "texts" (a list of strings) or "text" (one string)')
    single = "text" in obj
    if single:
        if isinstance(obj["text"], list):
            raise InputTypeError('"text" must be a string; for several texts use "texts"')
        texts = [check_text(obj["text"])]
    else:
        if isinstance(obj["texts"], str):
            raise InputTypeError('"texts" must be a list of strings; for one text use "text"')
        if isinstance(obj["texts"], list) and len(obj["texts"]) > config.max_texts:
            raise PayloadTooLargeError(f"{len(obj['texts'])} texts in one request; this server accepts at most "
                                       f"{config.max_texts} (--max-texts): split the request")
        texts = check_texts(obj["texts"])
    if not texts:
        raise InvalidInputError('"texts" is empty: send at least one text')
    for i, text in enumerate(texts):
        name = "text" if single else f"texts[{i}]"
        if len(text) > config.max_text_chars:
            raise PayloadTooLargeError(f"{name} has {len(text):,} characters; this server accepts at most "
                                       f"{config.max_text_chars:,} per text (--max-text-chars)")
        try:
            text.encode("utf-8")
        except UnicodeEncodeError as e:
            raise InvalidInputError(f"{name} is not encodable as UTF-8 (lone surrogate at index {e.start}): send "
                                    "well-formed Unicode") from None
    return texts


def _top_k(obj: dict) -> int:
    value = obj.get("top_k", 1)
    if isinstance(value, bool) or not isinstance(value, int):
        raise InputTypeError(f'"top_k" must be an integer, not a JSON {_json_type(value)}')
    if value < 1:
        raise InvalidInputError(f'"top_k" must be >= 1, got {value}')
    return value


def classify_request(obj: dict, config: ServeConfig) -> TextsRequest:
    """POST /v1/classify: {"texts": [...], "top_k": k} or {"text": "...", "top_k": k}."""
    _check_fields(obj, ("texts", "text", "top_k"))
    return TextsRequest(texts_of(obj, config), _top_k(obj))


def embed_request(obj: dict, config: ServeConfig) -> TextsRequest:
    """POST /v1/embed: {"texts": [...]} or {"text": "..."}."""
    _check_fields(obj, ("texts", "text"))
    return TextsRequest(texts_of(obj, config))
