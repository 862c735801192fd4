"""Event streams: broker destinations (Redis Streams, RabbitMQ, NATS JetStream) fed from
the event outbox, one cursor per destination in PostgreSQL (see docs/streams.md)."""
