"""Tests of turbina.cache."""
