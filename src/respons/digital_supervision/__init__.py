"""Digital supervision (digitalt tilsyn): planned and event-based look-ins (docs/supervision.md)."""
