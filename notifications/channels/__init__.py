"""Outbound delivery channels: one module per channel, each a registered Channel class
(notifications.channels.base)."""
