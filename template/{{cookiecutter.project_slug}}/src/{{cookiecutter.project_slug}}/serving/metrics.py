"""The API's Prometheus metrics: traffic and latency per endpoint, predictions per label and
the distribution of predicted probabilities (prediction drift on a dashboard), updated once
per request. With several workers they are aggregated across processes (prometheus_client's
multiprocess mode, PROMETHEUS_MULTIPROC_DIR)."""

from __future__ import annotations

import os

import numpy as np
from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)

MULTIPROCESS_DIR = "PROMETHEUS_MULTIPROC_DIR"


class Metrics:
    """The app's Prometheus metrics, in a registry of its own (one per app); with several
    worker processes they are collected from all of them at scrape time."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "http_requests_total",
            "HTTP requests by endpoint, method and status code.",
            ["endpoint", "method", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "http_request_duration_seconds",
            "HTTP request latency by endpoint and method.",
            ["endpoint", "method"],
            registry=self.registry,
        )
        self.predictions = Counter(
            "model_predictions_total",
            "Predictions served, by decided label (the contract's class labels; value for a "
            "regressor).",
            ["label"],
            registry=self.registry,
        )
        self.probability = Histogram(
            "model_prediction_probability",
            "Served probability: of the positive class (binary), of the decided class "
            "(multiclass); watch its shape for prediction drift.",
            buckets=[i / 10 for i in range(1, 11)],
            registry=self.registry,
        )
        self.model_info = Gauge(
            "model_info",
            "The model being served (value 1).",
            ["name", "version", "model_type"],
            registry=self.registry,
            multiprocess_mode="livemax",  # 1 while any worker serves that version
        )
        self.model_loaded = Gauge(
            "model_loaded",
            "1 when a model is loaded and served (by every worker).",
            registry=self.registry,
            multiprocess_mode="livemin",
        )

    def count_predictions(self, labels: np.ndarray | None, probability: np.ndarray) -> None:
        """Count a request's predictions by decided label and the served probabilities (one
        update per metric, whatever the batch size); a regressor's (`labels` None) count as
        one kind, its values in the target's unit left to the inference log."""
        if labels is None:
            self.predictions.labels("value").inc(len(probability))
            return
        values, counts = np.unique(labels, return_counts=True)
        for label, count in zip(values.tolist(), counts.tolist(), strict=True):
            self.predictions.labels(str(label)).inc(count)
        # Histogram.observe takes one value at a time: 70 us for 100 rows, against 7 us for
        # this, its own bucket arithmetic over the whole batch (buckets are stored per
        # interval and cumulated at scrape time). It reads prometheus_client's internals:
        # tests/infrastructure/test_api.py checks the result against per-row observe.
        histogram = self.probability
        bounds = np.asarray(histogram._upper_bounds)
        counts = np.bincount(
            np.searchsorted(bounds, probability, side="left"), minlength=len(bounds)
        )
        for bucket, count in zip(histogram._buckets, counts.tolist(), strict=True):
            if count:
                bucket.inc(count)
        histogram._sum.inc(float(probability.sum()))

    def exposition(self) -> bytes:
        if os.environ.get(MULTIPROCESS_DIR):  # several workers: read every process's values
            registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
            return generate_latest(registry)
        return generate_latest(self.registry)
