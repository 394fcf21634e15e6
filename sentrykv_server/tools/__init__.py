"""Offline tools: sentrykv-check."""
