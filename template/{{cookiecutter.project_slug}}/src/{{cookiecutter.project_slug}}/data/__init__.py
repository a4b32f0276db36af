"""Data: the contract every batch is validated against, ingestion into the processed
splits, and the feature engineering that ships inside each model."""
