# Apache Airflow: the DAGs in dags/, run locally with a throwaway sqlite home in .airflow/.
# PIPELINE_IMAGE= runs the steps in this process (cluster.yaml's image is for the cluster);
# parsing the DAGs imports the ML stack, which takes longer than Airflow's 30 s on a busy machine.
AIRFLOW := AIRFLOW_HOME=$(CURDIR)/.airflow AIRFLOW__CORE__DAGS_FOLDER=$(CURDIR)/dags \
	AIRFLOW__CORE__LOAD_EXAMPLES=False AIRFLOW__CORE__DAGBAG_IMPORT_TIMEOUT=300 PIPELINE_IMAGE= \
	uv run airflow

.PHONY: flow airflow-db airflow-run airflow-monitor airflow-score airflow-ui flow-namespace{% if cookiecutter.cloud == 'aws' %} flow-deploy{% endif %}

airflow-db:
	@mkdir -p .airflow && echo '*' > .airflow/.gitignore
	$(AIRFLOW) db migrate

airflow-run: airflow-db ## Run the training DAG once through Airflow (ingest, train, promote)
	$(AIRFLOW) dags test {{ cookiecutter.project_slug }}_training

airflow-monitor: airflow-db ## Run the monitoring DAG once (drift updates the retraining asset)
	$(AIRFLOW) dags test {{ cookiecutter.project_slug }}_monitoring

airflow-score: airflow-db ## Run the batch-scoring DAG once (the champion scores params.yaml score.input)
	$(AIRFLOW) dags test {{ cookiecutter.project_slug }}_batch_scoring

airflow-ui: airflow-db ## Airflow's UI, scheduler and DAG processor on http://localhost:8080
	$(AIRFLOW) standalone

flow: airflow-run ## Run the pipeline through Airflow (the training DAG, once)

flow-namespace: ## Create the steps' namespace, service account and workspace volume (kubectl's context)
	kubectl apply -k dags/k8s
{%- if cookiecutter.cloud == 'aws' %}
# The DAG folder flow-deploy writes, then ships to the source bucket's dags/.
MWAA_DAG_FOLDER ?= build/airflow-dags

flow-deploy: ## Ship the DAGs to MWAA (TRAINING_IMAGE: make flow-image's digest, the steps' image)
	@test -n "$(TRAINING_IMAGE)" || { echo "set TRAINING_IMAGE to the image the steps run (make flow-image)"; exit 1; }
	@# The DAG folder MWAA parses: the DAGs, cluster.yaml with Terraform's cluster and the
	@# image, and what the DAGs read from the project (MWAA's Airflow has not got it).
	rm -rf $(MWAA_DAG_FOLDER)
	echo '$(call tf_output,airflow_cluster)' \
		| uv run python dags/pipeline_manifest.py $(MWAA_DAG_FOLDER) --image $(TRAINING_IMAGE) --cloud -
	aws s3 sync --delete --no-progress $(MWAA_DAG_FOLDER) s3://$(call tf_output,airflow_source_bucket)/dags/
{%- endif %}
