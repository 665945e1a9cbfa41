"""gunicorn's settings for the web app: `gunicorn 'webapp:create_app()'` run from this directory reads them
(or pass `-c gunicorn.conf.py`; command-line options and GUNICORN_CMD_ARGS override any of them).

One process per core: more processes than cores only queue for them (bench/load.py, 10,000 children,
16 clients, 2 cores: sync:4 answered 33 searches/s against sync:2's 57). Four threads in each: on this
machine gthread:2:4 and sync:2 were within noise of each other once a request's database round trips were
cut (54 and 57 searches/s; an earlier run, with more round trips, gave gthread 29 against sync 17), and
threads keep a worker answering while one request waits on a slow backend -- an Elasticsearch node being
replaced, a database failover -- where a sync worker would stand still. docs/capacity.md has the figures.
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
