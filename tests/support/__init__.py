"""Helpers shared by the tests and the benchmarks (not tests themselves): builders of real test
models and bundles (``runtime_models``, ``convert_helpers``) and the Hugging Face reference
tokenizer setup (``tokenizer_reference``). Tests import them as ``support.<module>`` (pytest puts
``tests/`` on sys.path); bench/ scripts put ``tests/`` on sys.path themselves."""
