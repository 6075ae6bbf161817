"""secrets-migrate: move ECS plaintext environment variables onto managed secrets."""

__version__ = "0.1.0"
