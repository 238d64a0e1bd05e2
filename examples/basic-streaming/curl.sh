#!/bin/sh
# The seed's stream read with curl while main.ts serves: -N prints each event as it arrives,
# exactly as the server sends it (fal's `data: <json>` events, the final result last).
exec curl -N -sS -X POST \
  -H 'content-type: application/json' \
  -d '{"prompt": "A sunset", "steps": 20}' \
  "http://127.0.0.1:${PORT:-8000}/stream"
