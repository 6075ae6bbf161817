"""The one engine that carries out plans, file and live alike.

``env.Env`` holds every effect an action may use (stores, IAM, ECS per region, the value resolver,
limits, health checker, clock, journal), passed explicitly. ``registry.IMPLS`` maps each action type
to its ``ActionImpl`` (``impls/``: stores, iam, files, ecs). ``executor`` applies and rolls back,
``verify`` checks, ``finalize`` closes a run: one path for both modes. The live wave runner
(``migrate.live.waves``) only schedules which actions run when.
"""
