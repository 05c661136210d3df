"""Consumers the reconciler tells about a new version (DESIGN.md section 4): ``command``
and ``webhook`` here, others through the entry-point group ``gitrot.triggers``."""
