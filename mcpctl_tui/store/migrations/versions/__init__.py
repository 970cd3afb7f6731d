"""Revision files (``NNNN_slug.py``, revision id == file stem)."""
