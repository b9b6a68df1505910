"""Adapters around the tersify engine (LangChain, LlamaIndex, HTTP server, client).

Importing this package imports no framework; each adapter module raises
:class:`tersify.MissingDependencyError` naming its extra when its framework is missing.
"""

__all__: list[str] = []
