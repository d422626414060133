"""The review queue: store (SQLAlchemy), sink for the serving hook, reviewer API + web UI, export and retention.

See review/README.md. Nothing here imports torch.
"""
