"""HTTP plumbing shared by every app's endpoints: the error envelope and exception handler, the
strict JSON input layer, query parsing, the client IP, and the no-store and overload middleware."""
