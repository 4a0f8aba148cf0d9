"""Model input names -> the manifest's input roles (input_ids, token_type_ids, attention_mask).

One table for every reader, writer and runner: PaddleNLP, Hugging Face and older ERNIE exports
name the same inputs differently.

May import: edgetext.errors.
"""
from __future__ import annotations

from edgetext.errors import ConversionError

ROLES = ("input_ids", "token_type_ids", "attention_mask")
FEED_ALIASES = {
    "input_ids": "input_ids", "ids": "input_ids", "src_ids": "input_ids", "input_word_ids": "input_ids",
    "token_type_ids": "token_type_ids", "segment_ids": "token_type_ids", "sent_ids": "token_type_ids",
    "attention_mask": "attention_mask", "input_mask": "attention_mask",
}


def feed_role(name: str) -> str:
    """The role of a model input name; ConversionError for names no reader knows."""
    role = FEED_ALIASES.get(name)
    if role is None:
        raise ConversionError(f"unsupported model input {name!r}: expected input_ids, token_type_ids or "
                              "attention_mask")
    return role
