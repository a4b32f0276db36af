# Apache Airflow: the DAGs in dags/, run locally with a throwaway sqlite home in .airflow/.
# PIPELINE_IMAGE= runs the steps in this process (cluster.yaml's image is for the cluster);
# parsing the DAGs imports the ML stack, which takes longer than Airflow's 30 s on a busy machine.
AIRFLOW := AIRFLOW_HOME=$(CURDIR)/.airflow AIRFLOW__CORE__DAGS_FOLDER=$(CURDIR)/dags \
	AIRFLOW__CORE__LOAD_EXAMPLES=False AIRFLOW__CORE__DAGBAG_IMPORT_TIMEOUT=300 PIPELINE_IMAGE= \
	uv run airflow

{% set managed = {'aws': 'MWAA', 'gcp': 'Cloud Composer'}.get(cookiecutter.cloud, '') -%}
.PHONY: flow airflow-db airflow-run airflow-monitor airflow-score airflow-ui flow-namespace{% if managed %} flow-deploy{% endif %}

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

flow-namespace: ## Create the steps' namespace, service account and workspace volume{% if cookiecutter.cloud == 'gcp' %}, and Composer's access to it{% endif %} (kubectl's context)
	kubectl apply -k dags/k8s
{%- if cookiecutter.cloud == 'gcp' %}
	@# Composer's service account may manage pods in this namespace only (GKE's RBAC).
	kubectl -n {{ cookiecutter.project_slug | replace('_', '-') }}-airflow create rolebinding composer-starts-steps --clusterrole=edit \
		--user=$(call tf_output,airflow_service_account) --dry-run=client -o yaml | kubectl apply -f -
{%- endif %}
{%- if managed %}

# The DAG folder flow-deploy writes, then syncs to {{ managed }}'s DAG folder in its bucket.
AIRFLOW_DAG_FOLDER ?= build/airflow-dags

flow-deploy: ## Ship the DAGs to {{ managed }} (TRAINING_IMAGE: make flow-image's digest, the steps' image)
	$(if $(TRAINING_IMAGE),,$(error set TRAINING_IMAGE to the image the steps run: make flow-image prints it))
	@# The DAG folder {{ managed }} parses: the DAGs, cluster.yaml with Terraform's cluster and
	@# the image, and what the DAGs read from the project ({{ managed }}'s Airflow has not got it).
	rm -rf $(AIRFLOW_DAG_FOLDER)
	echo '$(call tf_output,airflow_cluster)' \
		| uv run python dags/pipeline_manifest.py $(AIRFLOW_DAG_FOLDER) --image $(TRAINING_IMAGE) --cloud -
{%- if cookiecutter.cloud == 'aws' %}
	aws s3 sync --delete --no-progress $(AIRFLOW_DAG_FOLDER) $(call tf_output,airflow_dags_url)
{%- else %}
	gcloud storage rsync --recursive --delete-unmatched-destination-objects $(AIRFLOW_DAG_FOLDER) \
		$(call tf_output,airflow_dags_url)
{%- endif %}
{%- endif %}
