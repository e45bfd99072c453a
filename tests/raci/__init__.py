"""Tests of the responsibility matrix (质量职能分配表); their helpers are in tests/raci/helpers.py."""
