# Dagster's targets, included by the project's Makefile.
DAGSTER_WORKSPACE := orchestration/dagster/workspace.yaml
# A persistent Dagster instance in .dagster/ (runs kept between sessions; its own .gitignore
# keeps it out of git). Its dagster.yaml, from this directory, turns usage statistics off;
# DAGSTER_DISABLE_TELEMETRY also stops their upload where another instance is used.
export DAGSTER_HOME ?= $(CURDIR)/.dagster
export DAGSTER_DISABLE_TELEMETRY ?= true
.PHONY: flow flow-score dagster-ui

# Created once: a dagster.yaml already in DAGSTER_HOME (yours) is left as it is.
$(DAGSTER_HOME)/dagster.yaml: | orchestration/dagster/dagster.yaml
	mkdir -p $(@D)
	test -e $(@D)/.gitignore || echo '*' > $(@D)/.gitignore
	cp orchestration/dagster/dagster.yaml $@

flow: $(DAGSTER_HOME)/dagster.yaml ## Materialize every asset of the pipeline with Dagster (in-process, nothing to start)
	uv run dagster job execute -f orchestration/dagster/definitions.py -d . -j training

flow-score: $(DAGSTER_HOME)/dagster.yaml ## Materialize today's batch_scores: the champion scores params.yaml score.input
	uv run dagster job execute -f orchestration/dagster/definitions.py -d . -j batch_scoring \
		--tags "{\"dagster/partition\": \"$$(date -u +%F)\"}"

dagster-ui: $(DAGSTER_HOME)/dagster.yaml ## Dagster's UI, schedule and sensor daemon on http://127.0.0.1:3000
	uv run dagster dev -w $(DAGSTER_WORKSPACE) -h 127.0.0.1 -p 3000
