"""One module per outbound channel; each exposes `send(delivery, settings) -> provider id`."""
