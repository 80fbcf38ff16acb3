"""The example protocols (*.toml), installed as package data (stimbox.resources)."""
