# Meterdesk: `make run` serves the embedded set-up (SQLite, no other service; `make run
# PORT=8001` serves on another port); `make test` runs the whole suite (PostgreSQL/Redis/
# Chromium tests skip where absent, unless REQUIRE_SERVICES=1 / REQUIRE_BROWSER=1, as in CI);
# `make serve` is the production-shaped run on DATABASE_URL and REDIS_URL (docs/operations.md).
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PORT ?= 8000

.PHONY: run serve test install migrate seed check-deploy clean

$(STAMP): requirements.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt
	touch $(STAMP)

install: $(STAMP)

migrate: install
	$(BIN)/python manage.py migrate --noinput

seed: migrate
	$(BIN)/python manage.py seed_demo

# The web server and a Celery worker with beat, from the Procfile; Ctrl-C stops both.
run: seed
	@echo "Meterdesk is starting on http://127.0.0.1:$(PORT): log in as owner@acme.test,"
	@echo "password meterdesk-demo (the other demo logins are above). Ctrl-C stops everything."
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/honcho start --port $(PORT)

# gunicorn (WEB_CONCURRENCY workers), one Celery worker and one beat from Procfile.prod, on
# PostgreSQL and Redis; migrations and static files first; Ctrl-C stops all three.
serve: install
	@test -n "$$DATABASE_URL" -a -n "$$REDIS_URL" || { echo "make serve needs DATABASE_URL and REDIS_URL (see docs/operations.md); make run needs neither."; exit 2; }
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py collectstatic --noinput -v 0
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/honcho -f Procfile.prod start --port $(PORT)

test: install
	$(BIN)/python -m pytest $(PYTEST_ARGS)

check-deploy: install
	DEBUG=0 SECRET_KEY=$$(python3 -c 'import secrets;print(secrets.token_urlsafe(60))') \
	ALLOWED_HOSTS=meterdesk.example.com STRIPE_SECRET_KEY=sk_test_placeholder \
	$(BIN)/python manage.py check --deploy --fail-level WARNING

clean:
	rm -rf $(VENV) var
