"""The box's runtime: opened once, closed once, sessions are episodes inside it (box.py).

machine.py (the pure session state machine), health.py (heartbeats, stalls, the Health snapshot),
slots.py (session frame numbering), stages.py (the capture and inference loops),
camera_process.py (the camera in a process of its own), factories.py (what the runtime is built
from, by config: its seams), record.py (`agma record` on the same code). docs/architecture.md
draws who owns what.
"""
