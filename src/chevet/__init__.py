"""Chevet: sovereign, secure messaging for health and medico-social care teams."""

__version__ = "0.1.0"
