"""Readers and writers per format, and the sample store."""
