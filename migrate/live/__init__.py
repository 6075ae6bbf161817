"""Live ECS mode: migrate running services (issue 4). Discovery, planning and the wave scheduler;
the live actions themselves run through ``migrate.apply`` like every other action."""
