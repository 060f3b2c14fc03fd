"""Export trained models, load them back, and predict on new files."""
