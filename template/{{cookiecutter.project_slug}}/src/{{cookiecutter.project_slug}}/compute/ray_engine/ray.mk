# Ray's targets (compute.engine: ray), included by the project's Makefile.
.PHONY: ray-up ray-down ray-submit

RAY := uv run ray
RAY_PORT ?= 6379

ray-up: ## A local Ray cluster on 127.0.0.1 (a head and two worker nodes); export RAY_ADDRESS=127.0.0.1:6379 to use it
	$(RAY) start --head --node-ip-address 127.0.0.1 --port $(RAY_PORT) --num-cpus 1 \
		--include-dashboard true --dashboard-host 127.0.0.1 --disable-usage-stats
	$(RAY) start --address 127.0.0.1:$(RAY_PORT) --node-ip-address 127.0.0.1 --num-cpus 1
	$(RAY) start --address 127.0.0.1:$(RAY_PORT) --node-ip-address 127.0.0.1 --num-cpus 1

ray-down: ## Stop the local Ray cluster of `make ray-up`
	$(RAY) stop

ray-submit: ## Run the pipeline as a Ray job on the cluster at RAY_ADDRESS (its dashboard address, port 8265)
	@[ -n "$$RAY_ADDRESS" ] || { echo "RAY_ADDRESS is not set: the Ray dashboard's address, e.g. http://127.0.0.1:8265"; exit 1; }
	$(RAY) job submit --working-dir . -- $(CLI) pipeline

# `make bench` (benchmarks/scale.py) starts a local Ray per run: its object store capped at
# 1 GB (Ray's default is 30% of the machine's memory), so a run's memory is bounded too.
bench: export RAY_DEFAULT_OBJECT_STORE_MAX_MEMORY_BYTES ?= 1000000000
