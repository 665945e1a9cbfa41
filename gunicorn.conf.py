"""gunicorn's settings for the web app: `gunicorn 'webapp:create_app()'` run from this directory reads them
(or pass `-c gunicorn.conf.py`; command-line options and GUNICORN_CMD_ARGS override any of them).

Sync workers, one per core, chosen from bench/load.py's side-by-side runs (10,000 children, 16 clients,
2 cores shared with PostgreSQL and Elasticsearch, final request path): sync:2 answered 57 and 59 searches/s
(p95 297 and 263 ms), gthread:2:4 54 and 39 (p95 337 and 549 ms), sync:4 33 (p95 517 ms). Once a request's
database round trips were cut (13 for a search), a worker is busy in Python more than it waits, so more
processes than cores only queue for them and threads add switching. Where the web hosts have their own
cores and the backends are further away (more waiting per request), measure gthread again with
bench/load.py (`CONTACTPOINT_WEB_THREADS`); an earlier run, with 48 round trips a search, favoured it.
"""
import os

workers = int(os.environ.get("CONTACTPOINT_WEB_WORKERS", os.cpu_count() or 1))
threads = int(os.environ.get("CONTACTPOINT_WEB_THREADS", 1))
worker_class = "gthread" if threads > 1 else "sync"
# A search answers in well under a second; a worker stuck for this long is restarted.
timeout = 30
# Keep the memory of a long-running worker bounded whatever a library caches.
max_requests = 20000
max_requests_jitter = 2000
