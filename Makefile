# ICR developer commands. `make run` and `make test` work on a fresh clone with only Python 3.11.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
export ICR_DEV ?= 1

.PHONY: install run worker test test-sqlite test-postgres bench bench-deps lint fmt migrate messages compilemessages vendor browser-deps clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)

migrate: install
	mkdir -p var
	$(PY) manage.py migrate --noinput

# Everything on embedded defaults: SQLite under var/, Celery worker + beat on kombu's
# filesystem transport under var/celery, Django's server on 127.0.0.1:8000.
run: migrate
	$(PY) manage.py setup_demo
	@echo "Celery worker with beat: log in var/celery.log. Ctrl-C stops the server and the worker."
	@$(VENV)/bin/celery -A icr worker -B --loglevel=info --pool=solo \
	    --schedule=var/celerybeat-schedule > var/celery.log 2>&1 & worker=$$!; \
	  trap 'kill $$worker 2>/dev/null; wait $$worker 2>/dev/null' EXIT; \
	  trap 'exit 0' INT TERM; \
	  DEBUG=1 $(PY) manage.py runserver 127.0.0.1:8000

worker: install
	$(VENV)/bin/celery -A icr worker -B --loglevel=info --pool=solo --schedule=var/celerybeat-schedule

# The whole suite: PostgreSQL when DATABASE_URL is set, SQLite otherwise.
test: install
	mkdir -p var
	$(PY) -m pytest $(PYTEST_ARGS)

# The benchmark's one program outside the virtualenv: wrk drives the load section. Installed
# from Debian when missing, as .ci/run installs what the tests need.
bench-deps:
	.ci/install-packages wrk

bench: install bench-deps
	$(PY) -m bench $(BENCH_ARGS)

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

fmt: install
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

messages: install
	$(PY) manage.py makemessages -l zh_Hans --no-obsolete --ignore=.venv --ignore=node_modules --ignore=static --ignore=var --ignore='tests/*' --ignore='bench/*'

compilemessages: install
	$(PY) manage.py compilemessages -l zh_Hans --ignore=.venv

# Front-end packages come from package.json/package-lock.json; their dist files are committed
# under static/vendor/ so `make run` needs no Node.
vendor:
	npm ci --no-audit --no-fund
	node scripts/vendor.mjs

clean:
	rm -rf $(VENV) var
