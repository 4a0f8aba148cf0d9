"""The one exception hierarchy of the SDK.

Every error a user can cause derives from :class:`EdgeTextError`; the message
says what was wrong and what to do about it. Subclasses also derive from the
matching builtin (``ValueError``, ``TypeError``, ``FileNotFoundError``) so that
generic handlers keep working.
"""
from __future__ import annotations


class EdgeTextError(Exception):
    """Base class of every EdgeText error."""


class InvalidInputError(EdgeTextError, ValueError):
    """A text, batch or argument the caller passed is unusable (None, bytes, bad UTF-8, ...)."""


class PairInputError(InvalidInputError):
    """Text pairs given to a single-text bundle, or single texts to a text-pair bundle (manifest ``text_pairs``)."""


class InputTypeError(EdgeTextError, TypeError):
    """An argument has the wrong Python type or dtype."""


class TokenizerError(EdgeTextError):
    """The native tokenizer failed or could not be built."""


class VocabError(TokenizerError, ValueError):
    """A vocabulary file is missing, empty, malformed or inconsistent."""


class NativeLibraryError(EdgeTextError, ImportError):
    """The compiled extension edgetext._native is missing or does not match this Python."""


class BundleError(EdgeTextError):
    """A bundle cannot be opened or is malformed."""


class BundleNotFoundError(BundleError, FileNotFoundError):
    """The bundle path (or a file it names) does not exist."""


class BundleIntegrityError(BundleError):
    """A checksum, size or golden-vector check failed: the bundle was altered or truncated."""


class UnsafeBundleError(BundleError):
    """The bundle tries to escape its area (absolute or '..' paths, links, duplicates, extra files)."""


class ManifestError(BundleError, ValueError):
    """manifest.json is missing, unparsable, of an unknown version or fails the schema."""


class TaskMismatchError(BundleError, ValueError):
    """The bundle is for another task than the API given it (a classifier to TextEmbedder, or the reverse)."""


class BackendError(EdgeTextError):
    """An inference engine failed to load or run a model."""


class BackendUnavailableError(BackendError):
    """The requested backend/device cannot serve this bundle on this host; the message lists what can."""


class ConversionError(EdgeTextError):
    """A converter could not read, transform or write a model."""


class AccuracyGateError(ConversionError):
    """A converted model lost too much accuracy against its reference and was refused."""
