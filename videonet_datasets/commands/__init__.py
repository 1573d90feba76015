"""One module per ``videonet`` subcommand (see ``videonet_datasets.cli``)."""
