"""Read-side selectors of the payments core."""
