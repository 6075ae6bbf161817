"""Live ECS mode: migrate running services (issue 4). Importing ``migrate.live.actions`` registers the
live action kinds and their executors."""
