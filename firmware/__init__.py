"""The loader (main.py, boot.py) beside the firmware package, installed as
package data (stimbox.resources). Never part of a firmware image."""
