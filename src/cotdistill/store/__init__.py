"""The rationale store (SQLite, WAL) and importers of existing teacher outputs."""

from cotdistill.store.sqlite import RationaleStore, Sample, TeacherConfig, config_key

__all__ = ["RationaleStore", "Sample", "TeacherConfig", "config_key"]
