"""The media types clientkeys speaks, each named once.

JSON is the body of every HTTP request and answer (problems aside), of every
command and reply on the bus and of an event's `data`; an event itself travels
as a structured CloudEvent.
"""

from __future__ import annotations

JSON_TYPE = "application/json"
EVENT_CONTENT_TYPE = "application/cloudevents+json"
