"""The model registry: the promotion gate, the servable model on disk, the champion's
operations (export, sync, ship, rollback) and the lineage that ties a model to its data,
code and parameters. The tracker's registry holds the versions and the champion alias;
this package keeps the serving directory in line with it."""
