"""A Triton Inference Server model repository from a bundle (``edgetext export triton BUNDLE OUT_DIR``).

``export`` writes the repository; ``tokenizer_model``, ``onnx_model`` and ``postprocess_model`` are the
Python-backend models it copies in as ``model.py`` (they import ``triton_python_backend_utils``, which only
Triton's Python backend provides, and ``edgetext`` from the server's Python environment). Nothing here is
imported by ``import edgetext``.
"""
