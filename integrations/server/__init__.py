"""tersify over HTTP: a FastAPI app factory (extra ``server``).

>>> from tersify.integrations.server import ServerSettings, create_app
>>> app = create_app(ServerSettings(database_url="sqlite:///keys.db"))  # doctest: +SKIP

Serve it with ``tersify serve`` (or any ASGI server). See app.py for the endpoints.
"""

from tersify.integrations.server.app import create_app
from tersify.integrations.server.settings import ServerSettings

__all__ = ["ServerSettings", "create_app"]
