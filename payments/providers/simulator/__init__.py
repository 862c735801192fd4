"""The built-in simulator provider: an acquirer you can tell to misbehave."""
