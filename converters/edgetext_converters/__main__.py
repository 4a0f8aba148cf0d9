"""``python -m edgetext_converters [convert] SRC --out BUNDLE ...`` (same as ``edgetext convert``)."""
import sys

from .cli import main

sys.exit(main())
