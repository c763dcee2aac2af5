"""The organisation's archive: the full export (``chevet-export-2``) and its import, with the
readable HTML copy and the reports' files."""
