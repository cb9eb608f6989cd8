"""Resolvers, one module per part of the schema; each exports ``BINDABLES``."""
