"""Datasets and DataModules over the sample store; transforms; ingest into the store."""
