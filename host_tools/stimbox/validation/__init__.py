"""Bench validation of a unit against a phantom, and its report."""
