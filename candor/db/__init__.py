"""Database plumbing shared by every domain: the declarative base, column types, engines."""
