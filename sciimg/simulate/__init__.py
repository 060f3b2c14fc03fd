"""Simulators per modality; they write the same native formats as real instruments."""
