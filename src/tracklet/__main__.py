from tracklet.cli import cli

cli()
