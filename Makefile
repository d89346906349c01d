# Aftercare Assistant. The two commands: `make run` and `make test`.
SHELL := /bin/bash
VENV := .venv/bin
export RASA_TELEMETRY_ENABLED := false

.PHONY: run test venv train chat kb-check bench lint format lock clean

## run: build the environment, train if the training data changed, start the bot on localhost
run: venv
	$(VENV)/aftercare run

## test: build the environment and run every test (what CI runs)
test: venv
	bash scripts/test.sh

venv:
	@bash scripts/bootstrap.sh

## train: train the model if NLU/stories/rules/domain/config changed
train: venv
	$(VENV)/aftercare train

## chat: talk to the bot in this terminal (uses the running bot if `make run` is up)
chat: venv
	$(VENV)/aftercare chat

## kb-check: validate the clinic's YAML (file:line for every problem)
kb-check: venv
	$(VENV)/aftercare kb check

## bench: measure our bot side by side with a bare Rasa bot on loopback (about an hour), then the screening nets out of fold, the NLU cross-validation and the scale-out row (one stack vs two) and the check-in row (turn latency with the dispatcher busy) -> results/
bench: venv
	$(VENV)/python -m bench.run
	$(VENV)/python -m bench.screening_cv
	$(VENV)/python scripts/nlu_eval.py
	$(VENV)/python -m bench.scale
	$(VENV)/python -m bench.checkins

lint: venv
	$(VENV)/ruff check .
	$(VENV)/ruff format --check .

format: venv
	$(VENV)/ruff format .
	$(VENV)/ruff check --fix .

## lock: re-pin the environment after changing dependencies in pyproject.toml
lock: venv
	( echo "# Full pinned freeze of the environment CI tested (Python 3.10.13). Regenerate with \`make lock\`."; \
	  $(VENV)/pip freeze --all --exclude-editable ) > requirements.lock

clean:
	rm -rf models results var .pytest_cache .ruff_cache
