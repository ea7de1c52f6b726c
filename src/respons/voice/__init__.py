"""Voice: the operator talks to the person through the alarm unit, a phone or a colleague,
from the console, over an open WebRTC-to-SIP gateway (docs/voice.md)."""
