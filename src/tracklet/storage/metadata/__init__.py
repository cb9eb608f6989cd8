"""The metadata database: engine, tables, migrations and the repository over them."""
