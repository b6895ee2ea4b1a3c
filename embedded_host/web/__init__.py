"""The web side: the HTTP server's routes (the app's functions, the Durable HTTP and entity APIs, static pages),
who may call them (Host, Origin, keys), what is refused before a handler sees it, and keys kept out of logs.
"""
