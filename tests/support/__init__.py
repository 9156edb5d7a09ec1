"""Fixtures and helpers the tests share: sample libraries, people with roles, a served app, listeners."""
