"""One ``ActionImpl`` per action family: stores, iam, files, ecs (see ``migrate.apply.registry``)."""
