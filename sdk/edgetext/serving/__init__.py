"""edgetext.serving: ``edgetext serve``, an HTTP JSON API with dynamic batching (extra ``edgetext[serve]``).

    config.py   ServeConfig: every setting and limit, checked once
    payload.py  request bodies -> texts and options (the library's input errors)
    batcher.py  DynamicBatcher: concurrent requests -> one engine call, bounded queue
    tasks.py    what each endpoint runs (classify; embed when the bundle's task allows it)
    metrics.py  Prometheus text exposition
    app.py      the aiohttp routes, JSON errors, metrics (imports aiohttp)
    server.py   the process: load, listen, graceful SIGTERM (imports aiohttp)

``import edgetext`` never imports this package; ``edgetext serve`` imports edgetext.serving.server
when the command runs. See README.md here.

May import: nothing (the package only documents itself).
"""
