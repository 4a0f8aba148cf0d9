"""Inference backends behind one small interface (see base.py) and the table that picks one (registry.py).

Each backend module imports its engine lazily, inside the backend class, so that
`import edgetext.backends` never loads onnxruntime or paddlelite.
"""
