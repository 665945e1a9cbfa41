"""gunicorn's settings for the web app: `gunicorn 'webapp:create_app()'` run from this directory reads them
(or pass `-c gunicorn.conf.py`; command-line options and GUNICORN_CMD_ARGS override any of them).

Threads rather than more processes: a request spends most of its time waiting on the database and
Elasticsearch, not in Python, so a few threads per process keep the cores busy without a process's memory
each (bench/load.py compares worker models side by side; README, "Benchmarks", and docs/capacity.md give
the figures). One process per core, four threads each.
"""
import os

worker_class = "gthread"
workers = int(os.environ.get("CONTACTPOINT_WEB_WORKERS", os.cpu_count() or 1))
threads = int(os.environ.get("CONTACTPOINT_WEB_THREADS", 4))
# A search answers in well under a second; a worker stuck for this long is restarted.
timeout = 30
# Keep the memory of a long-running worker bounded whatever a library caches.
max_requests = 20000
max_requests_jitter = 2000
