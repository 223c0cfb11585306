# Meterdesk: `make run` serves the embedded set-up (SQLite, no other service);
# `make test` runs the whole suite (PostgreSQL/Redis/Chromium tests skip where absent,
# unless REQUIRE_SERVICES=1 / REQUIRE_BROWSER=1, as in CI).
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test install migrate seed check-deploy clean

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

run: seed
	@echo "Meterdesk is starting on http://127.0.0.1:8000 (log in with the demo accounts above)."
	$(BIN)/python manage.py runserver 127.0.0.1:8000

test: install
	$(BIN)/python -m pytest $(PYTEST_ARGS)

check-deploy: install
	DEBUG=0 SECRET_KEY=$$(python3 -c 'import secrets;print(secrets.token_urlsafe(60))') \
	ALLOWED_HOSTS=meterdesk.example.com STRIPE_SECRET_KEY=sk_test_placeholder \
	$(BIN)/python manage.py check --deploy --fail-level WARNING

clean:
	rm -rf $(VENV) var
