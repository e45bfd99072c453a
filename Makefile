# 服务质量门户 — the two commands: `make run` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PORT ?= 5000
FLASK := $(VENV)/bin/flask --app wsgi
PG_TEST_URL ?= postgresql+psycopg://postgres@127.0.0.1:5432/portal_test
export TEST_REDIS_URL ?= redis://127.0.0.1:6379/15

.PHONY: run test install install-test translations compile-translations services system-deps pdf-deps bench test-sqlite test-postgres test-fast vendor clean

$(VENV)/.installed: pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11 or newer is required")'
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: $(VENV)/.installed pyproject.toml
	$(PY) -m pip install --quiet -e '.[test]'
	touch $@

install: $(VENV)/.installed compile-translations

install-test: $(VENV)/.installed-test compile-translations

compile-translations: $(VENV)/.installed
	$(VENV)/bin/pybabel compile -d portal/translations

## make run: the portal with demo data on http://127.0.0.1:$(PORT)/ (SQLite + embedded Redis + worker + cron)
run: install pdf-deps
	$(FLASK) db upgrade
	$(FLASK) portal seed-demo
	$(FLASK) portal build-static
	PORT=$(PORT) $(PY) -m portal.devserver

## make test: the whole suite on SQLite, then on PostgreSQL (services started when installed but down)
test: install-test system-deps services
	$(MAKE) --no-print-directory test-sqlite
	$(MAKE) --no-print-directory test-postgres

test-sqlite:
	$(PY) -m pytest -p no:cacheprovider $(PYTEST_ARGS)

test-postgres:
	TEST_DATABASE_URL=$(PG_TEST_URL) $(PY) -m pytest -p no:cacheprovider $(PYTEST_ARGS)

# The suite without the tests marked slow (make run, migrations, browsers, killed services)
test-fast:
	$(PY) -m pytest -p no:cacheprovider -m "not slow" $(PYTEST_ARGS)

# From Debian's packages, when missing and running as root: Chromium and a CJK font for the browser tests;
# Pango (with HarfBuzz's subsetter, without which WeasyPrint warns at import) for the SOP PDFs, which use the
# same font; poppler-utils (pdftotext, pdftoppm) for the PDF tests; zbar-tools (zbarimg) to read back the QR codes
# of the feedback posters.
SYSTEM_PACKAGES := chromium fonts-wqy-microhei libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 poppler-utils \
	zbar-tools
system-deps:
	@libs="$$( (ldconfig -p || /sbin/ldconfig -p) 2>/dev/null)"; \
	if [ ! -x /usr/bin/chromium ] || ! fc-list 2>/dev/null | grep -qi 'wenquanyi\|wqy' \
	    || ! grep -q 'libpango-1\.0\.so' <<<"$$libs" || ! grep -q 'libpangoft2-1\.0\.so' <<<"$$libs" \
	    || ! grep -q 'libharfbuzz-subset\.so' <<<"$$libs" \
	    || ! command -v pdftoppm >/dev/null || ! command -v pdftotext >/dev/null || ! command -v zbarimg >/dev/null; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    (apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q $(SYSTEM_PACKAGES) >/dev/null) \
	      || echo "warning: could not install $(SYSTEM_PACKAGES)" >&2; \
	  else echo "warning: some of $(SYSTEM_PACKAGES) missing; browser and PDF tests will fail in CI" >&2; fi; \
	fi

# What make run needs for the SOP PDFs and the feedback posters (Pango, HarfBuzz's subsetter, a CJK font),
# when missing and running as root.
PDF_PACKAGES := fonts-wqy-microhei libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0
pdf-deps:
	@libs="$$( (ldconfig -p || /sbin/ldconfig -p) 2>/dev/null)"; \
	if ! fc-list 2>/dev/null | grep -qi 'wenquanyi\|wqy' || ! grep -q 'libpangoft2-1\.0\.so' <<<"$$libs" \
	    || ! grep -q 'libharfbuzz-subset\.so' <<<"$$libs"; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    (apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q $(PDF_PACKAGES) >/dev/null) \
	      || echo "warning: could not install $(PDF_PACKAGES): document PDFs and posters will not work" >&2; \
	  else echo "warning: some of $(PDF_PACKAGES) missing (apt-get install $(PDF_PACKAGES)): document PDFs and posters will not work" >&2; fi; \
	fi

# PostgreSQL and Redis: start them when installed but not running.
services:
	@if ! pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null && command -v pg_ctlcluster >/dev/null; then \
	  echo "starting PostgreSQL"; pg_ctlcluster --skip-systemctl-redirect $$(ls /etc/postgresql | head -n1) main start || true; \
	  for i in $$(seq 1 30); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 1; done; \
	fi
	@if ! redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1 && command -v redis-server >/dev/null; then \
	  echo "starting Redis"; mkdir -p /var/lib/redis /var/log/redis; \
	  redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no --dir /var/lib/redis --logfile /var/log/redis/ci.log; \
	  for i in $$(seq 1 30); do redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1 && break; sleep 1; done; \
	fi

## make translations: extract, update and compile the zh_Hans_CN catalog
translations: $(VENV)/.installed
	$(VENV)/bin/pybabel extract -F babel.cfg -k _l -k lazy_gettext -k lazy_pgettext:1c,2 --ignore-dirs='.* __pycache__' --no-location --sort-output -o portal/translations/messages.pot .
	$(VENV)/bin/pybabel update -i portal/translations/messages.pot -d portal/translations -l zh_Hans_CN --no-fuzzy-matching --ignore-obsolete
	$(VENV)/bin/pybabel compile -d portal/translations

## make bench: login page vs bare Flask (gunicorn, 2 workers), the daily digest for 10,000 users, the 300 × 40 matrix,
## the kiosk form (page weight, POST vs a bare insert, 60 s at 200 submissions/s)
bench: install-test services
	$(PY) bench/run_all.py
	$(PY) bench/digest_bench.py
	$(PY) bench/matrix_bench.py
	$(PY) bench/sop_search_bench.py
	$(PY) bench/kiosk_bench.py
	$(PY) bench/training_bench.py

vendor:
	./tools/vendor.sh

clean:
	rm -rf $(VENV) instance .pytest_cache
