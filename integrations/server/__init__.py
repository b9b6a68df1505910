"""tersify over HTTP: a FastAPI app factory (extra ``server``).

>>> from tersify.integrations.server import create_app
>>> app = create_app()  # doctest: +SKIP   (serve with uvicorn, or ``tersify serve``)
"""

from tersify.integrations.server.app import create_app

__all__ = ["create_app"]
