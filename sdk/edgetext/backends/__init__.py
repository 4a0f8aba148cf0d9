"""Inference backends behind one small interface (base.py), the backends EdgeText knows
(catalog.py: ``BACKENDS``), facts about this host (host.py) and the table that picks a
model (registry.py).

Layers, bottom up: host <- catalog <- registry; each backend module (onnxruntime.py,
paddlelite.py) imports at most host. Each backend imports its engine lazily, inside the
backend class, so that ``import edgetext.backends`` never loads onnxruntime or paddlelite.
May import: nothing (this file only documents the package).
"""
