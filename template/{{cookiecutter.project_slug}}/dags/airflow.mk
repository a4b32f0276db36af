# Apache Airflow: the DAGs in dags/, run locally with a throwaway sqlite home in .airflow/.
# PIPELINE_IMAGE= runs the steps in this process (cluster.yaml's image is for the cluster);
# parsing the DAGs imports the ML stack, which takes longer than Airflow's 30 s on a busy machine.
AIRFLOW := AIRFLOW_HOME=$(CURDIR)/.airflow AIRFLOW__CORE__DAGS_FOLDER=$(CURDIR)/dags \
	AIRFLOW__CORE__LOAD_EXAMPLES=False AIRFLOW__CORE__DAGBAG_IMPORT_TIMEOUT=300 PIPELINE_IMAGE= \
	uv run airflow

{% set managed = {'aws': 'MWAA', 'gcp': 'Cloud Composer', 'azure': 'Airflow on AKS'}.get(cookiecutter.cloud, '') -%}
.PHONY: flow airflow-db airflow-run airflow-monitor airflow-score airflow-ui flow-namespace{% if managed %} flow-deploy{% endif %}{% if cookiecutter.cloud == 'azure' %} airflow-install{% endif %}

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

flow-namespace: ## Create the steps' namespace, service account and workspace volume{% if cookiecutter.cloud == 'gcp' %}, and Composer's access to it{% elif cookiecutter.cloud == 'azure' %}, and the scheduler's access to it{% endif %} (kubectl's context)
	kubectl apply -k dags/k8s
{%- if cookiecutter.cloud == 'azure' %}
	kubectl -n {{ cookiecutter.project_slug | replace('_', '-') }}-airflow annotate serviceaccount airflow-steps --overwrite \
		azure.workload.identity/client-id=$(call tf_output,airflow_steps_client_id)
	@# Airflow's scheduler, which runs the tasks (LocalExecutor), may manage pods in this
	@# namespace only.
	kubectl -n {{ cookiecutter.project_slug | replace('_', '-') }}-airflow create rolebinding airflow-starts-steps --clusterrole=edit \
		--serviceaccount=airflow:airflow-scheduler --dry-run=client -o yaml | kubectl apply -f -
{%- endif %}
{%- if cookiecutter.cloud == 'gcp' %}
	@# Composer's service account may manage pods in this namespace only (GKE's RBAC).
	kubectl -n {{ cookiecutter.project_slug | replace('_', '-') }}-airflow create rolebinding composer-starts-steps --clusterrole=edit \
		--user=$(call tf_output,airflow_service_account) --dry-run=client -o yaml | kubectl apply -f -
{%- endif %}
{%- if managed %}

# The DAG folder flow-deploy writes, then ships to {{ managed }}'s DAG folder{% if cookiecutter.cloud != 'azure' %} in its bucket{% endif %}.
AIRFLOW_DAG_FOLDER ?= build/airflow-dags

flow-deploy: ## Ship the DAGs to {{ managed }} (TRAINING_IMAGE: make flow-image's digest, the steps' image)
	$(if $(TRAINING_IMAGE),,$(error set TRAINING_IMAGE to the image the steps run: make flow-image prints it))
	@# The DAG folder {{ managed }} parses: the DAGs, cluster.yaml with Terraform's cluster and
	@# the image, and what the DAGs read from the project (that Airflow has not got it).
	rm -rf $(AIRFLOW_DAG_FOLDER)
	echo '$(call tf_output,airflow_cluster)' \
		| uv run python dags/pipeline_manifest.py $(AIRFLOW_DAG_FOLDER) --image $(TRAINING_IMAGE) --cloud -
{%- if cookiecutter.cloud == 'aws' %}
	aws s3 sync --delete --no-progress $(AIRFLOW_DAG_FOLDER) $(call tf_output,airflow_dags_url)
{%- elif cookiecutter.cloud == 'gcp' %}
	gcloud storage rsync --recursive --delete-unmatched-destination-objects $(AIRFLOW_DAG_FOLDER) \
		$(call tf_output,airflow_dags_url)
{%- else %}
	@# Into the DAG volume, through the DAG processor: what an earlier deploy left goes first.
	tar -C $(AIRFLOW_DAG_FOLDER) -c . | kubectl -n airflow exec -i deployment/airflow-dag-processor \
		-c dag-processor -- sh -c 'find /opt/airflow/dags -mindepth 1 -delete && tar -x -C /opt/airflow/dags'
{%- endif %}
{%- endif %}
{%- if cookiecutter.cloud == 'azure' %}

# Airflow on AKS (README.md, "On Azure"), in the namespace airflow of kubectl's context: the
# official chart with dags/airflow-values.yaml, its database Terraform's (database.tf).
AIRFLOW_CHART_VERSION := 1.22.0

# The password is read before it is piped to kubectl: a pipe would hide a failed read and
# store an empty password.
airflow-install: ## Install or upgrade Airflow on AKS (its database connection, the official chart)
	kubectl create namespace airflow --dry-run=client -o yaml | kubectl apply -f -
	password=$$(az keyvault secret show --id $(call tf_output,airflow_database_secret) --query value --output tsv) \
		&& printf 'postgresql://airflow:%s@%s:5432/airflow?sslmode=require' "$$password" $(call tf_output,airflow_database_host) \
		| kubectl -n airflow create secret generic airflow-metadata \
			--from-file=connection=/dev/stdin --dry-run=client -o yaml \
		| kubectl apply -f -
	helm upgrade --install airflow airflow --repo https://airflow.apache.org --version $(AIRFLOW_CHART_VERSION) \
		--namespace airflow --values dags/airflow-values.yaml --wait --timeout 15m
{%- endif %}
