# Each target bootstraps what it needs (Debian packages as root, .venv, JDK) first.
.PHONY: bootstrap dev test bench compose-smoke clean

bootstrap:
	@./scripts/bootstrap

dev: bootstrap
	.venv/bin/contactpoint dev

test: bootstrap
	.venv/bin/python -m pytest

bench: bootstrap
	.venv/bin/python bench/search_quality.py
	.venv/bin/python bench/feed_load.py
	.venv/bin/python bench/indexing.py
	.venv/bin/python bench/audit.py
	.venv/bin/python -c 'import splink' 2>/dev/null || .venv/bin/python -m pip install -q -e '.[bench]'
	.venv/bin/python bench/linkage_quality.py

# Not part of `test`: needs root, builds images and takes minutes (README, "Deploying with docker-compose").
compose-smoke: bootstrap
	./scripts/compose-smoke

clean:
	rm -rf .venv .pytest_cache test-artifacts build *.egg-info
