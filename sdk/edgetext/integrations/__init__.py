"""Integrations with engines outside the device: bulk classification on Ray (``edgetext.integrations.ray``, extra
``ray``) and its ``edgetext classify-dataset`` command (``cli_dataset``), over JSON-lines / Parquet shards
(``shards``). ``import edgetext`` never imports this package; each module imports its engine only when used."""
