"""Messages to the outside: SMS to next of kin, Web Push to responders' phones (docs/messages.md)."""
