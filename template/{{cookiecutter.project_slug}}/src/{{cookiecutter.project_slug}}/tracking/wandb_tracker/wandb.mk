# Weights & Biases' targets, included by the project's Makefile.
.PHONY: wandb-sync

wandb-sync: ## Upload the offline W&B runs, oldest first (run `uv run wandb login` once)
	uv run wandb sync -n 1 $(sort $(wildcard models/wandb/offline-run-*))
