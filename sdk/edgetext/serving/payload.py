"""Request bodies -> checked texts and options, with the library's own input errors.

    obj = parse_json(body)                         # MalformedRequestError: not JSON, not an object
    req = classify_request(obj, config)            # texts, top_k; InputTypeError / InvalidInputError /
                                                   # PayloadTooLargeError naming the field and the limit
    req = classify_request(obj, config, pairs=True)  # a text-pair bundle: "text_pairs" too (PairInputError
                                                   # when missing; when sent to a single-text bundle, too)

Texts are checked by ``edgetext.preprocess.check_texts`` (the checks ``classify_batch`` makes) plus
the server's limits: texts per request, characters per text, and well-formed Unicode (a lone
surrogate, which JSON can carry, is refused here rather than failing a whole engine batch).

May import: the standard library, edgetext.errors, edgetext.preprocess and edgetext.serving.config.
"""
from __future__ import annotations

import json
from dataclasses import dataclass

from typing import Any

from ..errors import InputTypeError, InvalidInputError, PairInputError
from ..preprocess import check_text, check_texts
from .config import ServeConfig


class MalformedRequestError(InvalidInputError):
    """The body is not a JSON object (HTTP 400)."""


class PayloadTooLargeError(InvalidInputError):
    """The body, the number of texts or a text is over the server's limit (HTTP 413)."""


@dataclass(frozen=True)
class TextsRequest:
    """What a text endpoint runs: the texts (with their second texts, for a text-pair bundle), and the options
    of its endpoint. ``top_k`` None: the library's default (1; every label that applies, multi-label)."""

    texts: list[str]
    top_k: int | None = None
    pairs: list[str] | None = None

    def items(self) -> list[Any]:
        """What the batcher queues: the texts, or (text, pair) tuples (one engine row each)."""
        return list(self.texts) if self.pairs is None else list(zip(self.texts, self.pairs))


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


def texts_of(obj: dict, config: ServeConfig, one: str = "text", many: str = "texts") -> list[str]:
    """`many` (a list of str) or `one` (one str) of a request object, within the server's limits."""
    if (one in obj) == (many in obj):
        raise InvalidInputError(f'send either "{many}" (a list of strings) or "{one}" (one string)')
    single = one in obj
    if single:
        if isinstance(obj[one], list):
            raise InputTypeError(f'"{one}" must be a string; for several texts use "{many}"')
        texts = [check_text(obj[one])]
    else:
        if isinstance(obj[many], str):
            raise InputTypeError(f'"{many}" must be a list of strings; for one text use "{one}"')
        if isinstance(obj[many], list) and len(obj[many]) > config.max_texts:
            raise PayloadTooLargeError(f"{len(obj[many])} texts in one request; this server accepts at most "
                                       f"{config.max_texts} (--max-texts): split the request")
        texts = check_texts(obj[many])
    if not texts:
        raise InvalidInputError(f'"{many}" is empty: send at least one text')
    for i, text in enumerate(texts):
        name = one if single else f"{many}[{i}]"
        if len(text) > config.max_text_chars:
            raise PayloadTooLargeError(f"{name} has {len(text):,} characters; this server accepts at most "
                                       f"{config.max_text_chars:,} per text (--max-text-chars)")
        try:
            text.encode("utf-8")
        except UnicodeEncodeError as e:
            raise InvalidInputError(f"{name} is not encodable as UTF-8 (lone surrogate at index {e.start}): send "
                                    "well-formed Unicode") from None
    return texts


def _pairs_of(obj: dict, config: ServeConfig, texts: list[str], pairs: bool) -> list[str] | None:
    """The second texts of a text-pair bundle's request: "text_pair" with "text", "text_pairs" with "texts"."""
    sent = [f for f in ("text_pair", "text_pairs") if f in obj]
    if not pairs:
        if sent:
            raise PairInputError(f'this bundle classifies single texts, not pairs: drop "{sent[0]}"')
        return None
    want, of = ("text_pair", "text") if "text" in obj else ("text_pairs", "texts")
    if sent != [want]:
        raise PairInputError(f'this bundle classifies text pairs: send "{want}" with "{of}" (the second text of '
                             f'each pair){f", not {sent[0]!r}" if sent and sent != [want] else ""}')
    second = texts_of({want: obj[want]}, config, one="text_pair", many="text_pairs")
    if len(second) != len(texts):
        raise PairInputError(f'{len(second)} "text_pairs" for {len(texts)} "texts": send one second text per text')
    return second


def _top_k(obj: dict) -> int | None:
    if "top_k" not in obj:
        return None
    value = obj["top_k"]
    if isinstance(value, bool) or not isinstance(value, int):
        raise InputTypeError(f'"top_k" must be an integer, not a JSON {_json_type(value)}')
    if value < 1:
        raise InvalidInputError(f'"top_k" must be >= 1, got {value}')
    return value


def classify_request(obj: dict, config: ServeConfig, pairs: bool = False) -> TextsRequest:
    """POST /v1/classify: {"texts": [...], "top_k": k} or {"text": "...", "top_k": k}; a text-pair bundle
    (`pairs`) takes "text_pairs" with "texts" or "text_pair" with "text" as well."""
    _check_fields(obj, ("texts", "text", "text_pairs", "text_pair", "top_k") if pairs or "text_pair" in obj
                  or "text_pairs" in obj else ("texts", "text", "top_k"))
    texts = texts_of(obj, config)
    return TextsRequest(texts, _top_k(obj), _pairs_of(obj, config, texts, pairs))


def embed_request(obj: dict, config: ServeConfig) -> TextsRequest:
    """POST /v1/embed: {"texts": [...]} or {"text": "..."}."""
    _check_fields(obj, ("texts", "text"))
    return TextsRequest(texts_of(obj, config))
