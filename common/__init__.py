"""Infrastructure every app shares and none owns: the Redis client, correlation ids, JSON logging,
health probes, system checks, task publishing by name, the domain error kinds, and the HTTP
plumbing (error envelope, strict JSON input, query parsing, client IP, no-store and overload
middleware).

``common`` imports no Tender app (import-linter enforces it), so every app may import it and no
import can run in a circle through it. It is a Django app only so that its system checks register
in ``AppConfig.ready``.
"""
