"""The notifications REST API: DRF ViewSets and their schemas."""
