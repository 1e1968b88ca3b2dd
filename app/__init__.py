"""tasklogs: the Task Logs microservice (Dyzo API v2.0.0 compatible)."""

__version__ = "0.1.0"
