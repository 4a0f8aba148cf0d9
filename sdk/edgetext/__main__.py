"""``python -m edgetext`` is the ``edgetext`` CLI."""
from .cli import main

raise SystemExit(main())
