"""The fretes schema's Alembic history (env.py and versions/); run it with `fretes db`."""
